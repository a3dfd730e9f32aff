/**
 * The plan as data: runs code that declares resources (the whole program, or one component) under
 * Pulumi's mock runtime and returns what it declared — cluster, type, name, inputs with secrets
 * masked, and dependencies — without touching a cluster. Used by the tests and the plan CLI.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../lib/config";

/** Placeholders for values a plan never shows. */
export const SECRET = "[secret]";
export const UNKNOWN = "[unknown]";

export interface PlannedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** True for resources read with `get` rather than declared. */
    readonly read: boolean;
    /** The id a read asks for; {@link UNKNOWN} while it depends on values not yet known (the engine then skips the read). */
    readonly readId?: string;
    /** Name of the explicit provider (for Kubernetes objects: the cluster), if any. */
    readonly provider?: string;
    readonly parent?: string;
    /** Inputs as declared; secrets replaced by {@link SECRET}, unknowns by {@link UNKNOWN}. */
    readonly inputs: Record<string, unknown>;
    /** Whether the resource is protected from deletion. */
    readonly protect: boolean;
    /** Dotted paths of the inputs that arrived as secrets. */
    readonly secretInputs: readonly string[];
    /** URNs this resource waits for (dependsOn, and the resources behind its input Outputs). */
    readonly dependencies: readonly string[];
    /** Input paths whose change replaces the resource (`replaceOnChanges`). */
    readonly replaceOnChanges: readonly string[];
    /** Names it was known by before (`aliases`): the engine moves such a resource in its state, it is not replaced. */
    readonly aliases: readonly string[];
    /** Whether a replacement deletes the old resource first (otherwise the new one is created first). */
    readonly deleteBeforeReplace: boolean;
}

export interface Plan {
    readonly resources: readonly PlannedResource[];
}

/** What the mocked clusters answer: addresses of load balancers, keyed by provider (cluster) name. */
export interface MockClusters {
    /** Load balancer ingress of a cluster's Services. @default an IP of 203.0.113.0/24 (TEST-NET-3) per cluster: 203.0.113.(9+N) for clusterN */
    readonly loadBalancer?: (cluster: string) => { ip?: string; hostname?: string };
}

export interface PlanOptions extends MockClusters {
    /** Run as a preview: what clusters and providers fill in stays unknown. */
    readonly preview?: boolean;
    /**
     * With `preview`, the preview of an update rather than a first one: what the stack already has, by
     * resource name — "same" (known outputs and id) or "update" (known id, outputs unknown until the
     * update runs, as the engine previews them). Unlisted resources are to be created.
     */
    readonly existing?: (name: string) => "same" | "update" | undefined;
    /** Keep secret values in the plan's inputs (tests only; they are still listed in `secretInputs`). */
    readonly revealSecrets?: boolean;
}

interface RpcSecret {
    readonly value: unknown;
}

function isSecret(v: unknown): v is RpcSecret {
    return pulumi.runtime.isRpcSecret(v);
}

/**
 * Masks secrets (every leaf; an object's keys stay visible) and unknowns, and lists where the secrets
 * were. `reveal` keeps secret values, for tests that check what a secret holds.
 */
function mask(value: unknown, at: string, secrets: string[], reveal: boolean, inSecret = false): unknown {
    if (isSecret(value)) {
        if (!inSecret) secrets.push(at);
        return mask(value.value, at, secrets, reveal, true);
    }
    if (inSecret && !reveal && (typeof value !== "object" || value === null || pulumi.isUnknown(value))) return SECRET;
    if (pulumi.isUnknown(value)) return UNKNOWN;
    if (Array.isArray(value)) return value.map((v, i) => mask(v, `${at}[${i}]`, secrets, reveal, inSecret));
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, at ? `${at}.${k}` : k, secrets, reveal, inSecret)]));
    }
    return value;
}

const unwrap = (v: unknown): unknown => (isSecret(v) ? unwrap(v.value) : v);

/** `urn:...::pulumi:providers:kubernetes::cluster1::id` → `cluster1` */
function providerName(ref: string): string | undefined {
    if (!ref) return undefined;
    const urn = ref.split("::").slice(0, -1).join("::");
    return urn.split("::").pop();
}

/** Status fields the program reads back from the clusters, as a real run would find them. */
function mockState(args: pulumi.runtime.MockResourceArgs, clusters: MockClusters): Record<string, unknown> {
    const inputs = args.inputs as Record<string, unknown>;
    const cluster = providerName(args.provider ?? "") ?? "";
    switch (args.type) {
        case "kubernetes:core/v1:Service": {
            const ingress = clusters.loadBalancer?.(cluster) ?? { ip: `203.0.113.${10 + clusterIndex(cluster)}` };
            return { ...inputs, status: { loadBalancer: { ingress: [ingress] } } };
        }
        case "kubernetes:core/v1:Secret": {
            if (unwrap(inputs.type) !== "kubernetes.io/service-account-token") return inputs;
            const b64 = (s: string) => Buffer.from(s).toString("base64");
            return { ...inputs, data: { token: b64(`reader-token-of-${cluster}`), "ca.crt": b64(`api-server-ca-of-${cluster}`) } };
        }
        case "kubernetes:helm.sh/v3:Release":
            return { ...inputs, status: { name: inputs.name, namespace: inputs.namespace, revision: 1, status: "deployed" } };
        case "tls:index/privateKey:PrivateKey":
            return { ...inputs, privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${args.name}\n-----END PRIVATE KEY-----\n` };
        case "tls:index/certRequest:CertRequest":
            return { ...inputs, certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\n${args.name}\n-----END CERTIFICATE REQUEST-----\n` };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { ...inputs, certPem: `-----BEGIN CERTIFICATE-----\n${args.name}\n-----END CERTIFICATE-----\n` };
        default:
            return inputs;
    }
}

/** A stable host number per cluster: `cluster7` gets 16 (so cluster1's gateway is 203.0.113.10). */
function clusterIndex(cluster: string): number {
    const n = /(\d+)$/.exec(cluster);
    return n ? Number(n[1]) - 1 : [...cluster].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 200, 0);
}

/** The parts of a register/read request the plan records (both carry the inputs, under different names). */
interface ResourceRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProvider(): string;
    getId?(): string;
    getProtect?(): boolean;
    getDependenciesList?(): string[];
    getReplaceonchangesList?(): string[];
    getDeletebeforereplace?(): boolean;
    getObject?(): Parameters<typeof pulumi.runtime.deserializeProperties>[0];
    getProperties?(): Parameters<typeof pulumi.runtime.deserializeProperties>[0];
}

type Callback = (err: unknown, response?: { getUrn(): string }) => void;

/**
 * Runs `declare` under mocks and returns what it declared. With `preview`, every value a cluster or
 * provider would fill in (addresses, tokens, certificates, ids) stays unknown, as in a first preview.
 */
export async function runUnderMocks(
    declare: () => void,
    options: PlanOptions & { config?: Record<string, string> } = {},
): Promise<Plan> {
    const preview = options.preview ?? false;
    const resources: PlannedResource[] = [];

    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
                // A read whose id is unknown is skipped by the engine: its outputs stay unknown.
                const unknownRead = args.id === pulumi.runtime.unknownValue;
                const existing = unknownRead ? undefined : preview ? options.existing?.(args.name) : "same";
                const inputs = args.inputs as Record<string, unknown>;
                let state = inputs;
                if (existing !== undefined) {
                    const outputs = mockState(args, options);
                    // An update's outputs that are not its inputs stay unknown until it runs.
                    const updated = (k: string) => (k in inputs ? inputs[k] : pulumi.runtime.unknownValue);
                    state = existing === "same" ? outputs : Object.fromEntries(Object.keys(outputs).map((k) => [k, updated(k)]));
                }
                // The SDK passes an empty id for a resource to create: give it one (an empty id reads as unknown).
                return { id: existing === undefined ? undefined : args.id || `${args.name}-id`, state };
            },
            call: (args: pulumi.runtime.MockCallArgs): Record<string, unknown> => args.inputs as Record<string, unknown>,
        },
        PROJECT,
        "test",
        preview,
    );
    pulumi.runtime.setAllConfig(options.config ?? {});

    // Record each registration's own request: the mocks' newResource sees neither parent nor dependencies.
    const monitor = (pulumi.runtime as unknown as { getMonitor(): Record<string, (req: ResourceRequest, cb: Callback) => void> }).getMonitor();
    for (const method of ["registerResource", "readResource"] as const) {
        const original = monitor[method].bind(monitor);
        monitor[method] = (req, callback) =>
            original(req, (err, response) => {
                if (!err && response) {
                    const urn = response.getUrn();
                    const secretInputs: string[] = [];
                    const struct = method === "registerResource" ? req.getObject?.() : req.getProperties?.();
                    const raw = struct ? pulumi.runtime.deserializeProperties(struct, true) : {};
                    resources.push({
                        urn,
                        type: req.getType(),
                        name: req.getName(),
                        read: method === "readResource",
                        readId:
                            method === "readResource"
                                ? req.getId?.() === pulumi.runtime.unknownValue ? UNKNOWN : req.getId?.()
                                : undefined,
                        provider: providerName(req.getProvider()),
                        parent: req.getParent() || undefined,
                        protect: req.getProtect?.() ?? false,
                        inputs: mask(raw, "", secretInputs, options.revealSecrets ?? false) as Record<string, unknown>,
                        secretInputs,
                        dependencies: req.getDependenciesList?.() ?? [],
                        replaceOnChanges: req.getReplaceonchangesList?.() ?? [],
                        aliases: aliasNames(req),
                        deleteBeforeReplace: req.getDeletebeforereplace?.() ?? false,
                    });
                }
                callback(err, response);
            });
    }

    declare();
    await pulumi.runtime.disconnect();
    return { resources };
}

type AliasProto = { getUrn?(): string; getSpec?(): { getName?(): string } | undefined };

/** The names of a registration's aliases (by spec, or the last part of an alias URN). */
function aliasNames(req: ResourceRequest): string[] {
    const list = (req as unknown as { getAliasesList?(): AliasProto[] }).getAliasesList?.() ?? [];
    return list.map((a) => a.getSpec?.()?.getName?.() || (a.getUrn?.() ?? "").split("::").at(-1) || "").filter(Boolean);
}

/** Path of the program's entry point, as ts-node (index.ts) or compiled JavaScript (index.js) loads it. */
const PROGRAM = path.join(__dirname, "..", "..", "index");

/**
 * Runs the whole program (index) for a stack config of `istio-multicluster:*` keys and returns the
 * plan and its stack outputs (resolved unless previewing).
 */
export async function planProgram(
    config: Record<string, string>,
    options: PlanOptions = {},
): Promise<Plan & { outputs: Record<string, unknown> }> {
    let program: Record<string, unknown> = {};
    const plan = await runUnderMocks(
        () => {
            delete require.cache[require.resolve(PROGRAM)];
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- each run re-evaluates the program, which needs require's cache
            program = require(PROGRAM) as Record<string, unknown>;
        },
        { ...options, config: { "pulumi:disable-default-providers": '["kubernetes"]', ...config } },
    );
    const outputs: Record<string, unknown> = {};
    if (!options.preview) {
        for (const [key, value] of Object.entries(program)) {
            outputs[key] = pulumi.Output.isInstance(value) ? await new Promise((resolve) => value.apply(resolve)) : value;
        }
    }
    return { ...plan, outputs };
}

/**
 * The longest chain of waits among the plan's declared resources (components and providers excluded):
 * how many resources a `pulumi up` must create one after another.
 */
export function longestChain(plan: Plan): number {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    const counts = (r: PlannedResource) => r.read || r.type.startsWith("kubernetes:") || r.type.startsWith("tls:");
    const memo = new Map<string, number>();
    const depth = (urn: string): number => {
        const known = memo.get(urn);
        if (known !== undefined) return known;
        memo.set(urn, 0); // a cycle cannot be declared; this only guards the recursion
        const r = byUrn.get(urn);
        const below = Math.max(0, ...(r?.dependencies ?? []).map(depth));
        const d = below + (r && counts(r) ? 1 : 0);
        memo.set(urn, d);
        return d;
    };
    return Math.max(0, ...plan.resources.map((r) => depth(r.urn)));
}
