/**
 * The stack configuration: its schema, its defaults, and the one function that turns Pulumi's raw
 * config map into a validated {@link StackConfig} or a single error listing every problem.
 *
 * Validation runs before the program declares any resource, so a bad config creates nothing.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as semver from "semver";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { CHART_KEYS, CHART_MAP_KEYS, CHART_VALUE_KEYS, type IstioChart, leafPaths } from "./chart-keys";
import { isLocalChartRepository, localChartProblem } from "./charts";
import type { ChartValues, NetworkGatewaySettings, Sizing } from "./istio-values";
import { type MergedKubeconfig, mergeKubeconfigs, parseKubeconfig, singleContext } from "./kubeconfig";
import { DEFAULT_TAG, type Revision, baseVersionOf, defaultRevisionOf, revisionNameOf, singleControlPlane } from "./revisions";

/** The Pulumi project name, which is also the namespace of our config keys. */
export const PROJECT = "istio-multicluster";

/**
 * Defaults of the `istio` key. 1.30.5 (istio.io, 2026-09-21) carries the fixes of 1.30.4 for two
 * multicluster bugs our flows hit on 1.30.0–1.30.3: a remote-secret rotation wiping the rotated
 * cluster's endpoints (istio/istio#61043) and removing a remote unregistering the other networks'
 * gateways (#60920). Its chart keys are those checked at 1.30.3 (lib/chart-keys.ts: patch releases
 * keep chart values). Charts and images moved in 2026: the GCS chart bucket stops after 1.30 and the
 * registry.istio.io image hub is retired, so both point at the current homes.
 */
export const ISTIO_DEFAULTS = {
    version: "1.30.5",
    meshId: "mesh1",
    chartRepository: "https://blob.istio.io/istio-release/charts",
    hub: "docker.io/istio",
} as const;

/** The oldest Istio whose charts have what we rely on (remote profile; network labels on gateway pods). */
export const MINIMUM_ISTIO_VERSION = "1.26.0";

/** The four files of Istio's cert tooling (`tools/certs`), read per cluster when `ca.source` is `files`. */
export const CA_FILES = ["ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"] as const;

/** The versions of Istio's helloworld sample. */
export const HELLOWORLD_VERSIONS = ["v1", "v2"] as const;
export type HelloworldVersion = (typeof HELLOWORLD_VERSIONS)[number];

/** One cluster as the user wrote it, after validation and kubeconfig resolution. */
export interface ClusterConfig {
    /** Istio cluster name (`global.multiCluster.clusterName`). */
    readonly name: string;
    /** Istio network name (`global.network`). */
    readonly network: string;
    /** The kubeconfig context the cluster's provider uses. */
    readonly context: string;
    /** A kubeconfig holding only this cluster's context, cluster and user, for its provider; treat as secret. */
    readonly kubeconfig: string;
    /** The https URL istiod uses to reach this cluster's API server. */
    readonly apiServer: string;
    /** A fixed address for the cluster's network gateway, used instead of its load balancer's. */
    readonly gatewayAddress?: string;
    /** Its network gateway's pods and load-balancer Service. */
    readonly gateway: NetworkGatewaySettings;
    /**
     * Any value; changing it rotates the cluster's reader token (a new token is in every remote secret
     * for it before the old one is deleted). Clusters another istiod watches: remotes, and primaries
     * when there are several.
     */
    readonly tokenRotation?: string;
}

/** A remote: a cluster without istiod, attached to one primary. */
export interface RemoteConfig extends ClusterConfig {
    /** The primary whose istiod injects and configures its pods (`remotes[].primary`, else the only one). */
    readonly primary: string;
}

export interface StackConfig {
    /** The first primary: `primary`, or the first of `primaries` (the sample's client runs there). */
    readonly primary: ClusterConfig;
    /** Every cluster running istiod (one with `primary`); each watches every other cluster of the mesh. */
    readonly primaries: readonly ClusterConfig[];
    readonly remotes: readonly RemoteConfig[];
    readonly istio: {
        /** The version of the default revision (the only control plane when there are no revisions). */
        readonly version: string;
        readonly meshId: string;
        readonly chartRepository: string;
        readonly hub: string;
        /** The control planes: one with revision "" when `istio.revisions` is not set. */
        readonly revisions: readonly Revision[];
        /** The revision behind the `default` tag ("" when `istio.revisions` is not set). */
        readonly defaultRevision: string;
        /** The `base` chart's version (Istio's CRDs): `istio.baseVersion`, else the newest revision's, else `version`. */
        readonly baseVersion: string;
        /** Each istiod's replicas and resources (unset: the chart's). */
        readonly istiod: Sizing;
        /** Other values of Istio's charts, by chart, merged over the program's last. */
        readonly values: ChartValues;
    };
    readonly ca: { readonly source: "generate" | "files"; readonly directory?: string };
    /** `protect` of what must not be deleted by accident: the CA, and the remote secrets. */
    readonly protect: { readonly ca: boolean; readonly remoteSecrets: boolean };
    readonly sample: {
        readonly enabled: boolean;
        readonly namespace: string;
        /** The helloworld versions each cluster runs, by cluster name (the page's placement when not set). */
        readonly versions: Readonly<Record<string, readonly HelloworldVersion[]>>;
        /** The revision the sample namespace is pinned to (`istio.io/rev`); unset: the `default` tag. */
        readonly revision?: string;
    };
}

/** A bad stack configuration: the message lists every problem; Pulumi prints it without a stack trace. */
export class StackConfigError extends pulumi.RunError {
    constructor(readonly problems: readonly string[]) {
        super(
            `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was created:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "StackConfigError";
    }
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VERSION = /^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/;

/** A strict object whose unknown-key message names the keys it knows (but `unlisted` ones, which exist to explain themselves). */
function known<T extends z.ZodRawShape>(shape: T, what: string, unlisted: readonly string[] = []) {
    return z.strictObject(shape, {
        error: (issue) => (issue.code === "unrecognized_keys" ? `one of ${Object.keys(shape).filter((k) => !unlisted.includes(k)).join(", ")}` : what),
    });
}

const dnsLabel = (what: string) =>
    z
        .string({ error: `${what} (a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters)` })
        .max(63, { error: `${what} of at most 63 characters` })
        .regex(DNS1123_LABEL, { error: `${what} (a DNS-1123 label: lowercase letters, digits and '-')` });

const labelValue = (what: string) =>
    z
        .string({ error: `${what} (a Kubernetes label value: letters, digits, '-', '_' and '.', at most 63 characters)` })
        .max(63, { error: `${what} of at most 63 characters` })
        .regex(LABEL_VALUE, { error: `${what} (a Kubernetes label value: letters, digits, '-', '_' and '.')` });

const url = (protocols: readonly string[], what: string) =>
    z.string({ error: what }).refine(
        (v) => {
            try {
                return protocols.includes(new URL(v).protocol);
            } catch {
                return false;
            }
        },
        { error: what },
    );

const istioVersion = z
    .string({ error: "an Istio release version such as 1.30.3" })
    .regex(VERSION, { error: "an Istio release version such as 1.30.3", abort: true })
    .refine((v) => semver.gte(v, MINIMUM_ISTIO_VERSION), {
        error: `an Istio release version of at least ${MINIMUM_ISTIO_VERSION}`,
    });

/**
 * Istio's revision names are DNS labels; `istiod-<rev>` is also a Helm release name (at most 53
 * characters), and `default` is the tag's name, not a revision's.
 */
const MAX_REVISION = 46;
const REVISION_NAME = `a revision name (a DNS-1123 label of at most ${MAX_REVISION} characters, not "${DEFAULT_TAG}")`;
const isRevisionName = (v: string) => v.length <= MAX_REVISION && DNS1123_LABEL.test(v) && v !== DEFAULT_TAG;
/**
 * `""` names the control plane installed without a revision (the istiod chart's `revision: ""`, what
 * `istio.version` installs): listed among the revisions, it stays while a canary is added and the
 * default moved, and goes last (README, "Upgrade Istio by revision").
 */
const UNREVISIONED = '"" for the control plane installed without a revision (istio.version)';
const revisionName = z
    .string({ error: `${REVISION_NAME}, or ${UNREVISIONED}` })
    .refine((v) => v === "" || isRevisionName(v), { error: `${REVISION_NAME}, or ${UNREVISIONED}` });
/** Revision names as a message lists them ("" quoted, so that it shows). */
const listNames = (names: readonly string[]) => names.map((n) => (n === "" ? '""' : n)).join(", ");

/**
 * The revisions as the user wrote them, for cross-checks on raw input: those with a version, each
 * with its index, its name (explicit, else derived from the version) and whether it was named.
 */
function rawRevisions(istio: unknown): { index: number; name: string; version: string; named: boolean }[] {
    const revisions: unknown[] = isRecord(istio) && Array.isArray(istio.revisions) ? istio.revisions : [];
    return revisions.flatMap((r, index) =>
        isRecord(r) && typeof r.version === "string"
            ? [{ index, name: typeof r.name === "string" ? r.name : revisionNameOf(r.version), version: r.version, named: r.name !== undefined }]
            : [],
    );
}

const CHART_REPOSITORY =
    "an https:// or oci:// Helm chart repository URL, or a local directory holding the base, istiod and gateway charts (<chart>/ or <chart>-<version>.tgz)";

const address = z
    .string({ error: "an IP address or a DNS name" })
    .refine((v) => [z.ipv4(), z.ipv6(), z.hostname()].some((s) => s.safeParse(v).success), {
        error: "an IP address or a DNS name",
    });

/** A Kubernetes quantity (`500m`, `2Gi`, `1.5`); a number is taken as written. */
const quantity = z
    .union([z.string(), z.number()], { error: "a Kubernetes quantity such as 500m or 2Gi" })
    .transform(String)
    .refine((v) => /^[+]?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/.test(v), { error: "a Kubernetes quantity such as 500m or 2Gi" });

const resourcesSchema = known(
    {
        requests: known({ cpu: quantity.optional(), memory: quantity.optional() }, "an object: { cpu?, memory? }").optional(),
        limits: known({ cpu: quantity.optional(), memory: quantity.optional() }, "an object: { cpu?, memory? }").optional(),
    },
    "an object: { requests?: { cpu?, memory? }, limits?: { cpu?, memory? } }",
);

const replicas = z
    .number({ error: "a whole number of replicas, at least 1" })
    .int({ error: "a whole number of replicas, at least 1" })
    .min(1, { error: "a whole number of replicas, at least 1" })
    .max(100, { error: "at most 100 replicas" });

/** An annotation key: an optional DNS-subdomain prefix and a name of up to 63 characters. */
const ANNOTATION_KEY = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const CIDR = "an IP range in CIDR notation such as 203.0.113.0/24";
const cidr = z.string({ error: CIDR }).refine((v) => z.cidrv4().safeParse(v).success || z.cidrv6().safeParse(v).success, { error: CIDR });

const gatewaySchema = known(
    {
        replicas: replicas.optional(),
        resources: resourcesSchema.optional(),
        service: known(
            {
                annotations: z
                    .record(z.string().regex(ANNOTATION_KEY), z.string({ error: "a string (quote numbers and booleans)" }), {
                        error: (issue) =>
                            issue.code === "invalid_key"
                                ? "a value under an annotation key (the key is not one: an optional DNS-subdomain prefix and '/', then letters, digits, '-', '_', '.')"
                                : "a map of annotation to string value",
                    })
                    .optional(),
                loadBalancerIP: z.union([z.ipv4(), z.ipv6()], { error: "an IP address" }).optional(),
                loadBalancerClass: z
                    .string({ error: "a load balancer class such as service.k8s.aws/nlb" })
                    .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, { error: "a load balancer class such as service.k8s.aws/nlb" })
                    .optional(),
                loadBalancerSourceRanges: z.array(cidr, { error: `a list of ${CIDR}` }).optional(),
                externalTrafficPolicy: z.enum(["Cluster", "Local"], { error: '"Cluster" or "Local"' }).optional(),
            },
            "an object: { annotations?, loadBalancerIP?, loadBalancerClass?, loadBalancerSourceRanges?, externalTrafficPolicy? }",
        ).optional(),
    },
    "an object: { replicas?, resources?, service? }",
);

/**
 * `istio.values`: other values of Istio's charts, by chart, merged over the program's last. Their
 * top-level keys (and those under `global`) must be the chart's own (lib/chart-keys.ts); what the
 * program sets from the stack's own keys cannot be set here, so the stack's keys stay the truth.
 */
/** The stack key behind a chart value the program sets. */
function stackKeyOf(chart: IstioChart, key: string): string {
    const sized = /^(replicaCount|autoscale\w*|autoscaling\..*|podDisruptionBudget\..*|resources\..*)$/.test(key);
    if (chart === "gateway" && key.startsWith("service.")) return `each cluster's gateway.service (${key})`;
    if (chart === "gateway" && sized) return "each cluster's gateway.replicas and gateway.resources";
    if (chart === "istiod" && sized) return "istio.istiod.replicas and istio.istiod.resources";
    return `the stack's own keys: see the README's "Stack configuration"`;
}

const chartValuesOf = (chart: IstioChart) =>
    z
        .record(z.string(), z.unknown(), { error: `an object of ${chart} chart values` })
        .superRefine((values, ctx) => {
            const { top, global } = CHART_VALUE_KEYS[chart];
            for (const key of Object.keys(values)) {
                if (!top.includes(key)) ctx.addIssue({ code: "custom", path: [key], message: `a value of Istio's ${chart} chart (one of ${top.join(", ")})` });
            }
            if (isRecord(values.global)) {
                for (const key of Object.keys(values.global)) {
                    if (!global.includes(key)) ctx.addIssue({ code: "custom", path: ["global", key], message: `a global value of Istio's ${chart} chart (one of ${global.join(", ")})` });
                }
            }
            const owned = (p: string) => p in CHART_KEYS[chart] || CHART_MAP_KEYS[chart].some((m) => p === m || p.startsWith(`${m}.`));
            for (const key of leafPaths(values).filter(owned)) {
                ctx.addIssue({ code: "custom", path: key.split("."), message: `a value the program does not set itself (it sets this one from ${stackKeyOf(chart, key)})` });
            }
        })
        .optional();

const chartValuesSchema = known(
    { base: chartValuesOf("base"), istiod: chartValuesOf("istiod"), gateway: chartValuesOf("gateway") },
    "an object: { base?, istiod?, gateway? } of chart values",
);

const clusterShape = {
    name: dnsLabel("an Istio cluster name"),
    network: labelValue("an Istio network name"),
    context: z.string({ error: "a kubeconfig context name" }).min(1, { error: "a kubeconfig context name" }).optional(),
    kubeconfig: z
        .string({ error: "a kubeconfig file path or inline kubeconfig" })
        .min(1, { error: "a kubeconfig file path or inline kubeconfig" })
        .optional(),
    apiServer: url(["https:"], "an https URL of the cluster's API server").optional(),
    gatewayAddress: address.optional(),
    gateway: gatewaySchema.optional(),
};

/** A cluster's fields as the schemas below parse them. */
type ClusterFields = Partial<Record<"context" | "kubeconfig" | "apiServer" | "gatewayAddress" | "tokenRotation" | "primary", string>> & {
    readonly name: string;
    readonly network: string;
    readonly gateway?: NetworkGatewaySettings;
};

const tokenRotation = z
    .union([z.string().min(1).max(63), z.number()], { error: "a rotation marker: a short string or a number (change it to rotate)" })
    .transform(String)
    .optional();

/** A remote also has a remote secret, whose reader token the user may rotate from the config, and names its primary. */
const remoteShape = {
    ...clusterShape,
    tokenRotation,
    primary: dnsLabel("the name of the primary it is attached to").optional(),
};

/**
 * One of several primaries: watched by the others, so it has a reader token too. `primary` is
 * there only to say why not: a primary runs its own istiod.
 */
const primariesShape = {
    ...clusterShape,
    tokenRotation,
    primary: z.undefined({ error: "no primary: a primary runs its own istiod (list the cluster under remotes to attach it to a primary)" }).optional(),
};

/** Where a cluster's kubeconfig comes from, read as kubectl would (lib/kubeconfig.ts). */
interface KubeconfigSource {
    readonly id: string;
    readonly merged: MergedKubeconfig;
}

/** Why a kubeconfig cannot be had at all (no file), as opposed to one that is there but wrong. */
const NO_DEFAULT_KUBECONFIG = {
    unset: "KUBECONFIG is unset and ~/.kube/config does not exist",
    missing: "KUBECONFIG names no existing file",
} as const;
const NO_KUBECONFIG_FILE = "a kubeconfig file that exists, or inline kubeconfig";

/** The files of the user's default kubeconfig, as kubectl takes them: `KUBECONFIG`'s existing files, else `~/.kube/config`. */
function defaultKubeconfigFiles(): { files: string[]; missing?: string } {
    const listed = (process.env.KUBECONFIG ?? "").split(path.delimiter).filter(Boolean);
    const candidates = listed.length > 0 ? listed : [path.join(os.homedir(), ".kube", "config")];
    const files = candidates.filter((f) => fs.existsSync(f));
    return files.length > 0 ? { files } : { files, missing: listed.length > 0 ? NO_DEFAULT_KUBECONFIG.missing : NO_DEFAULT_KUBECONFIG.unset };
}

const readKubeconfigFile = (file: string) => parseKubeconfig(fs.readFileSync(file, "utf8"), path.dirname(path.resolve(file)));

/** The user's default kubeconfig (`KUBECONFIG`, else `~/.kube/config`), or why there is none. */
function defaultKubeconfig(): KubeconfigSource | string {
    const { files, missing } = defaultKubeconfigFiles();
    if (missing !== undefined) return `a kubeconfig (${missing})`;
    try {
        return { id: `default:${files.join(path.delimiter)}`, merged: mergeKubeconfigs(files.map(readKubeconfigFile)) };
    } catch {
        // Not the parser's message: it quotes the offending line, which may hold a credential.
        return "a kubeconfig that parses (the default one does not)";
    }
}

const isInlineKubeconfig = (value: string) => value.includes("\n") || value.trimStart().startsWith("{");
const expandHome = (file: string) => (file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file);

/** A cluster's own `kubeconfig` value: inline YAML/JSON when it spans lines or starts with `{`, else a path. */
function explicitKubeconfig(value: string): KubeconfigSource | string {
    try {
        if (isInlineKubeconfig(value)) {
            return { id: `inline:${createHash("sha256").update(value).digest("hex")}`, merged: mergeKubeconfigs([parseKubeconfig(value)]) };
        }
        const file = expandHome(value);
        if (!fs.existsSync(file)) return NO_KUBECONFIG_FILE;
        return { id: `file:${path.resolve(file)}`, merged: mergeKubeconfigs([readKubeconfigFile(file)]) };
    } catch {
        return "a readable kubeconfig";
    }
}

/**
 * Why a cluster's kubeconfig (its `kubeconfig` value, or the default one) does not exist at all, or
 * undefined when there is one to read. Tools that never contact a cluster (the plan) go on without it.
 */
export function absentKubeconfig(kubeconfig: string | undefined): string | undefined {
    if (kubeconfig === undefined) return defaultKubeconfigFiles().missing;
    if (isInlineKubeconfig(kubeconfig)) return undefined;
    return fs.existsSync(expandHome(kubeconfig)) ? undefined : `${kubeconfig} does not exist`;
}

/** A cluster's kubeconfig context resolved, or the problem (with the key it belongs to). */
type Resolution =
    | { readonly context: string; readonly kubeconfig: string; readonly server?: string; readonly sourceId: string }
    | { readonly problem: string; readonly key: "kubeconfig" | "context" };

/** A context of a kubeconfig, cut down to itself (its provider gets nothing of the other contexts); or the problem. */
function resolveContext(source: KubeconfigSource | string, contextName: string | undefined): Resolution {
    if (typeof source === "string") return { problem: source, key: "kubeconfig" };
    const { contextNames } = source.merged;
    const one = singleContext(source.merged, contextName);
    if (one === undefined) {
        return { problem: `a context of the kubeconfig (${contextNames.length > 0 ? contextNames.join(", ") : "it has none"})`, key: "context" };
    }
    return { context: one.context, kubeconfig: one.kubeconfig, server: one.server, sourceId: `${source.id}#${one.context}` };
}

/**
 * Resolves clusters' kubeconfig contexts, reading each kubeconfig and resolving each context once.
 * Works on raw (possibly invalid) cluster objects, so context problems are reported alongside every
 * other problem of the cluster.
 */
function contextResolver() {
    const sources = new Map<string | undefined, KubeconfigSource | string>(); // undefined: the default kubeconfig
    const resolutions = new Map<string, Resolution>();
    return (c: { kubeconfig?: unknown; context?: unknown }): Resolution | undefined => {
        if ((c.kubeconfig !== undefined && typeof c.kubeconfig !== "string") || (c.context !== undefined && typeof c.context !== "string")) {
            return undefined; // the schema reports the wrong type
        }
        const key = JSON.stringify([c.kubeconfig, c.context]);
        let resolution = resolutions.get(key);
        if (resolution === undefined) {
            let source = sources.get(c.kubeconfig);
            if (source === undefined) {
                source = c.kubeconfig === undefined ? defaultKubeconfig() : explicitKubeconfig(c.kubeconfig);
                sources.set(c.kubeconfig, source);
            }
            resolution = resolveContext(source, c.context);
            resolutions.set(key, resolution);
        }
        return resolution;
    };
}

/**
 * Why an API server URL cannot serve another cluster's istiod: a loopback or `localhost` address (kind,
 * minikube and k3d write `https://127.0.0.1:<port>`) reaches the primary's own pod, not this cluster,
 * so istiod would never add the cluster nor patch its webhooks' CA bundle. Undefined when it can.
 */
export function loopbackProblem(server: string, which: string): string | undefined {
    let host: string;
    try {
        host = new URL(server).hostname.replace(/^\[|\]$/g, "").toLowerCase();
    } catch {
        return undefined; // the schema reports a URL that does not parse
    }
    const loopback =
        host === "localhost" || host.endsWith(".localhost") || host === "::1" || host === "0.0.0.0" || (isIP(host) === 4 && host.startsWith("127."));
    if (!loopback) return undefined;
    return (
        `an API server address the primary's istiod can reach (${which}, ${server}, is loopback: it works only from this machine); ` +
        "set apiServer to the address the primary's pods reach it on (kind: https://<control-plane container IP>:6443, as npm run dev:clusters writes it)"
    );
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks run on raw input too (`when`), so they report alongside other problems of the same object. */
const always = { when: (payload: { value: unknown }) => isRecord(payload.value) };

/**
 * Which clusters run istiod and which are attached to which: `primary` or `primaries` (not both), a
 * mesh of at least two clusters, each remote's `primary` one of the primaries (required with
 * several), and no reader token to rotate on a primary nobody watches.
 */
function checkTopology(raw: Record<string, unknown>, ctx: z.RefinementCtx): void {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const primaries = Array.isArray(raw.primaries) ? raw.primaries : undefined;
    const remotes = Array.isArray(raw.remotes) ? raw.remotes : [];
    if (raw.primary !== undefined && raw.primaries !== undefined) {
        issue(["primaries"], "either primary (one cluster running istiod) or primaries (several), not both");
        return;
    }
    if (raw.primary === undefined && raw.primaries === undefined) {
        issue(["primary"], "the cluster running istiod: { name, network, ... } (or primaries: a list of them)");
        return;
    }
    const names = (primaries ?? [raw.primary]).map((p) => (isRecord(p) && typeof p.name === "string" ? p.name : undefined)).filter((n): n is string => n !== undefined);
    if ((primaries?.length ?? 1) + remotes.length < 2 && (raw.remotes === undefined || Array.isArray(raw.remotes))) {
        issue(["remotes"], primaries === undefined ? "a non-empty list of clusters" : "a non-empty list of clusters (a mesh of one primary needs a remote)");
    }
    remotes.forEach((r, i) => {
        if (!isRecord(r)) return;
        if (r.primary === undefined) {
            if (names.length > 1) issue(["remotes", i, "primary"], `the name of the primary it is attached to, one of ${names.join(", ")} (required with several primaries)`);
        } else if (typeof r.primary === "string" && !names.includes(r.primary)) {
            issue(["remotes", i, "primary"], `one of the primaries: ${names.join(", ")}`);
        }
    });
    if (primaries?.length === 1 && isRecord(primaries[0]) && primaries[0].tokenRotation !== undefined) {
        issue(["primaries", 0, "tokenRotation"], "no tokenRotation on the only primary: no other istiod watches it, so it has no reader token");
    }
}

/** The schema of the whole config; cross-cluster checks look at `raw`, the config as the user wrote it. */
function stackSchema(raw: Record<string, unknown>) {
    const resolve = contextResolver();
    /**
     * `reached`: another cluster's istiod reaches this one's API server (through its remote secret);
     * `unlisted`: keys there only to explain themselves.
     */
    const cluster = <S extends typeof clusterShape>(shape: S, what: string, reached: boolean, unlisted: readonly string[] = []) =>
        known(shape, what, unlisted)
            .superRefine((parsed, ctx) => {
                const c = parsed as ClusterFields;
                const r = resolve(c);
                if (r !== undefined && "problem" in r) {
                    ctx.addIssue({ code: "custom", path: [r.key], message: r.problem });
                } else if (r !== undefined && c.apiServer === undefined && !r.server) {
                    ctx.addIssue({ code: "custom", path: ["apiServer"], message: `an https URL (context "${r.context}" names no cluster server)` });
                } else if (r !== undefined && reached) {
                    const server = c.apiServer ?? r.server ?? "";
                    const problem = loopbackProblem(server, c.apiServer === undefined ? `the default, context "${r.context}"'s server` : "the value");
                    if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["apiServer"], message: problem });
                }
            }, always)
            .transform((parsed): ClusterConfig => {
                const c = parsed as ClusterFields;
                const r = resolve(c) as Exclude<Resolution, { problem: string }>;
                return {
                    name: c.name,
                    network: c.network,
                    context: r.context,
                    kubeconfig: r.kubeconfig,
                    apiServer: c.apiServer ?? (r.server as string),
                    gatewayAddress: c.gatewayAddress,
                    gateway: c.gateway ?? {},
                    ...(c.tokenRotation !== undefined ? { tokenRotation: c.tokenRotation } : {}),
                    ...(c.primary !== undefined ? { primary: c.primary } : {}),
                };
            });
    // With several primaries, each one's API server is reached by the others' istiods.
    const severalPrimaries = Array.isArray(raw.primaries) && raw.primaries.length > 1;
    const primary = cluster(clusterShape, "a cluster: { name, network, context?, kubeconfig?, apiServer?, gatewayAddress? }", false);
    const primaryOfSeveral = cluster(
        primariesShape as typeof clusterShape,
        "a primary: { name, network, context?, kubeconfig?, apiServer?, gatewayAddress?, tokenRotation? }",
        severalPrimaries,
        ["primary"],
    );
    const remote = cluster(remoteShape, "a remote: { name, network, primary?, context?, kubeconfig?, apiServer?, gatewayAddress?, tokenRotation? }", true);

    return known(
        {
            primary: primary.optional(),
            primaries: z.array(primaryOfSeveral, { error: "a list of clusters running istiod" }).min(1, { error: "a non-empty list of clusters running istiod" }).optional(),
            remotes: z.array(remote, { error: "a list of clusters" }).optional(),
            istio: known(
                {
                    version: istioVersion.default(ISTIO_DEFAULTS.version),
                    meshId: labelValue("a mesh ID").default(ISTIO_DEFAULTS.meshId),
                    chartRepository: z
                        .string({ error: CHART_REPOSITORY })
                        .min(1, { error: CHART_REPOSITORY })
                        .refine((v) => isLocalChartRepository(v) || url(["https:", "oci:"], "").safeParse(v).success, { error: CHART_REPOSITORY })
                        .default(ISTIO_DEFAULTS.chartRepository),
                    hub: z
                        .string({ error: "an image registry path such as docker.io/istio" })
                        .regex(/^[a-z0-9]([-a-z0-9._:]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)*$/, {
                            error: "an image registry path such as docker.io/istio",
                        })
                        .default(ISTIO_DEFAULTS.hub),
                    revisions: z
                        .array(
                            known(
                                {
                                    version: istioVersion,
                                    name: revisionName.optional(),
                                },
                                "a revision: { version, name? }",
                            ),
                            { error: "a list of revisions: [{ version, name? }]" },
                        )
                        .min(1, { error: "a non-empty list of revisions: [{ version, name? }]" })
                        .optional(),
                    defaultRevision: z.string({ error: "the name of a revision in istio.revisions" }).optional(),
                    baseVersion: istioVersion.optional(),
                    istiod: known({ replicas: replicas.optional(), resources: resourcesSchema.optional() }, "an object: { replicas?, resources? }").default({}),
                    values: chartValuesSchema.default({}),
                },
                "an object: { version?, meshId?, chartRepository?, hub?, revisions?, defaultRevision?, baseVersion?, istiod?, values? }",
            )
                .superRefine((_, ctx) => {
                    // The keys as written (the parsed object has defaults, and runs on invalid input too: see `always`).
                    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
                    const given = isRecord(raw.istio) ? raw.istio : {};
                    const listed = Array.isArray(given.revisions) ? given.revisions : undefined;
                    if (listed !== undefined && given.version !== undefined) {
                        issue(["version"], "no version when istio.revisions is set (each revision names its version)");
                    }
                    const seen = { name: new Map<string, number>(), version: new Map<string, number>() };
                    for (const r of rawRevisions(given)) {
                        if (!r.named && !isRevisionName(r.name)) {
                            issue(["revisions", r.index, "name"], `${REVISION_NAME}; the version's "${r.name}" is not one, so give a name`);
                        }
                        for (const key of ["name", "version"] as const) {
                            const first = seen[key].get(r[key]);
                            if (first === undefined) seen[key].set(r[key], r.index);
                            else issue(["revisions", r.index, key], `a ${key} no other revision has (istio.revisions[${first}] has ${listNames([r[key]])})`);
                        }
                    }
                    const names = [...seen.name.keys()];
                    if (given.defaultRevision === undefined) {
                        if (names.length > 1) issue(["defaultRevision"], `one of ${listNames(names)} (required with several revisions)`);
                    } else if (given.revisions === undefined) {
                        issue(["defaultRevision"], "no defaultRevision without istio.revisions");
                    } else if (typeof given.defaultRevision === "string" && listed !== undefined && !names.includes(given.defaultRevision)) {
                        issue(["defaultRevision"], `one of the revisions: ${listNames(names)}`);
                    }
                    // base never moves down by itself: with several control planes, its version is the user's choice.
                    const valid = [...seen.version.keys()].filter((v) => VERSION.test(v));
                    const newest = valid.sort(semver.rcompare)[0];
                    if (given.baseVersion !== undefined && listed === undefined) {
                        issue(["baseVersion"], "no baseVersion without istio.revisions (base runs at istio.version)");
                    } else if (given.baseVersion === undefined && seen.version.size > 1 && newest !== undefined) {
                        issue(
                            ["baseVersion"],
                            `the version the base chart (Istio's CRDs) runs at, required with several revisions, at least the newest (${newest}): ` +
                                "base never moves down unless you say so (README, \"Upgrade Istio by revision\")",
                        );
                    } else if (typeof given.baseVersion === "string" && VERSION.test(given.baseVersion) && newest !== undefined && semver.lt(given.baseVersion, newest)) {
                        issue(["baseVersion"], `a version at least the newest revision's (${newest}): base's CRDs must serve every control plane`);
                    }
                    if (typeof given.chartRepository !== "string" || !isLocalChartRepository(given.chartRepository)) return;
                    const versions = listed === undefined ? [given.version ?? ISTIO_DEFAULTS.version] : [...seen.version.keys(), ...(typeof given.baseVersion === "string" ? [given.baseVersion] : [])];
                    for (const version of new Set(versions.filter((v): v is string => typeof v === "string" && VERSION.test(v)))) {
                        const problem = localChartProblem(given.chartRepository, version);
                        if (problem !== undefined) issue(["chartRepository"], `${CHART_REPOSITORY} (${problem})`);
                    }
                }, always)
                .transform(({ revisions, defaultRevision, baseVersion, ...rest }) => {
                    if (revisions === undefined) return { ...rest, ...singleControlPlane(rest.version), baseVersion: rest.version };
                    const named = revisions.map((r): Revision => ({ name: r.name ?? revisionNameOf(r.version), version: r.version }));
                    const planes = { revisions: named, defaultRevision: defaultRevision ?? "", baseVersion };
                    const byDefault = defaultRevisionOf(planes);
                    return { ...rest, version: byDefault.version, revisions: named, defaultRevision: byDefault.name, baseVersion: baseVersionOf(planes) };
                })
                .default({ ...ISTIO_DEFAULTS, ...singleControlPlane(ISTIO_DEFAULTS.version), baseVersion: ISTIO_DEFAULTS.version, istiod: {}, values: {} }),
            ca: known(
                {
                    source: z.enum(["generate", "files"], { error: '"generate" or "files"' }).default("generate"),
                    directory: z.string({ error: "a directory path" }).min(1, { error: "a directory path" }).optional(),
                },
                'an object: { source?: "generate" | "files", directory? }',
            ).default({ source: "generate" }),
            protect: known(
                {
                    ca: z.boolean({ error: "true or false" }).default(false),
                    remoteSecrets: z.boolean({ error: "true or false" }).default(false),
                },
                "an object: { ca?, remoteSecrets? }",
            ).default({ ca: false, remoteSecrets: false }),
            sample: known(
                {
                    enabled: z.boolean({ error: "true or false" }).default(true),
                    namespace: dnsLabel("a namespace name").default("sample"),
                    versions: z
                        .record(
                            z.string(),
                            z.array(z.enum(HELLOWORLD_VERSIONS, { error: `one of ${HELLOWORLD_VERSIONS.join(", ")}` }), {
                                error: `a list of helloworld versions (${HELLOWORLD_VERSIONS.join(", ")})`,
                            }),
                            { error: 'a map of cluster name to helloworld versions, such as { "cluster3": ["v2"] }' },
                        )
                        .optional(),
                    revision: z.string({ error: "the name of a revision in istio.revisions" }).optional(),
                },
                "an object: { enabled?, namespace?, versions?, revision? }",
            ).default({ enabled: true, namespace: "sample" }),
        },
        "an object",
    ).superRefine((_, ctx) => {
        // Runs on invalid input too (see `always`): look only at what has the right shape.
        const listed = (key: string) => (Array.isArray(raw[key]) ? (raw[key] as unknown[]) : []).map((value, i) => ({ path: [key, i], value }));
        const clusters = [{ path: ["primary"], value: raw.primary }, ...listed("primaries"), ...listed("remotes")].filter(
            (c): c is { path: (string | number)[]; value: Record<string, unknown> } => isRecord(c.value),
        );
        checkTopology(raw, ctx);
        const firstSeen = new Map<string, (string | number)[]>();
        for (const c of clusters) {
            const r = resolve(c.value);
            const keys = [
                ["name", typeof c.value.name === "string" ? c.value.name : undefined, "a cluster name"],
                ["context", r && !("problem" in r) ? r.sourceId : undefined, "a context"],
            ] as const;
            for (const [key, identity, what] of keys) {
                if (identity === undefined) continue;
                const seen = firstSeen.get(`${key}=${identity}`);
                if (seen === undefined) {
                    firstSeen.set(`${key}=${identity}`, c.path);
                } else {
                    ctx.addIssue({ code: "custom", path: [...c.path, key], message: `${what} no other cluster uses (${formatPath(seen)} has it)` });
                }
            }
        }
        const versions = isRecord(raw.sample) && isRecord(raw.sample.versions) ? raw.sample.versions : {};
        const names = clusters.map((c) => c.value.name).filter((n): n is string => typeof n === "string");
        for (const key of Object.keys(versions).filter((k) => !names.includes(k))) {
            ctx.addIssue({ code: "custom", path: ["sample", "versions", key], message: `a cluster of this stack (${names.join(", ")})` });
        }
        if (isRecord(raw.sample) && typeof raw.sample.revision === "string") {
            // Pinning to the control plane without a revision is what leaving sample.revision unset does (the default).
            const names = [...new Set(rawRevisions(raw.istio).map((r) => r.name))].filter((n) => n !== "");
            if (!names.includes(raw.sample.revision)) {
                ctx.addIssue({
                    code: "custom",
                    path: ["sample", "revision"],
                    message:
                        names.length > 0
                            ? `one of the revisions: ${names.join(", ")} (unset: the default)`
                            : raw.sample.revision === "" && isRecord(raw.istio) && Array.isArray(raw.istio.revisions)
                              ? 'unset for the default ("" is not a revision to pin to)'
                              : "no revision without istio.revisions",
                });
            }
        }
        const ca = isRecord(raw.ca) ? raw.ca : {};
        if (ca.source === "files") {
            if (typeof ca.directory !== "string") {
                if (ca.directory === undefined) {
                    ctx.addIssue({ code: "custom", path: ["ca", "directory"], message: 'a directory path (ca.source is "files")' });
                }
                return;
            }
            const directory = ca.directory;
            // Only clusters that run istiod hold a CA: the primaries.
            const signers = clusters
                .filter((c) => c.path[0] === "primary" || c.path[0] === "primaries")
                .map((c) => c.value.name)
                .filter((name): name is string => typeof name === "string");
            const missing = signers
                .flatMap((name) => CA_FILES.map((f) => path.join(name, f)))
                .filter((f) => !fs.existsSync(path.join(directory, f)));
            if (missing.length > 0) {
                ctx.addIssue({
                    code: "custom",
                    path: ["ca", "directory"],
                    message: `a directory holding <cluster>/{${CA_FILES.join(",")}} for each cluster running istiod (${signers.join(", ")}) (missing: ${missing.join(", ")})`,
                });
            }
        }
    }, always);
}

/** `remotes[0].network` */
export function formatPath(segments: readonly PropertyKey[]): string {
    return segments.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join("");
}

function valueAt(root: unknown, segments: readonly PropertyKey[]): unknown {
    return segments.reduce<unknown>(
        (v, s) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[s] : undefined),
        root,
    );
}

/** The value found, for an error message: never a kubeconfig's (it may be a secret), and kept short. */
function describeFound(segments: readonly PropertyKey[], value: unknown): string {
    if (value === undefined) return "nothing";
    if (segments.includes("kubeconfig")) return "a value that is not shown (kubeconfigs may be secret)";
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Config values arrive as strings; objects and lists as JSON text. */
function parseConfigValue(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw;
    }
}

/**
 * Validates the `istio-multicluster:*` keys of a Pulumi config map (`pulumi.runtime.allConfig()`)
 * and resolves each cluster's kubeconfig context. Throws {@link StackConfigError} listing every
 * problem with its key path, the value found and what is expected.
 */
export function loadStackConfig(config: Readonly<Record<string, string>>): StackConfig {
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
        if (key.startsWith(`${PROJECT}:`)) raw[key.slice(PROJECT.length + 1)] = parseConfigValue(value);
    }
    // Pulumi.yaml's defaults for the topology keys (Pulumi requires a key without one): unset.
    for (const [key, empty] of [["primary", "{}"], ["primaries", "[]"]] as const) if (JSON.stringify(raw[key]) === empty) delete raw[key];
    const result = stackSchema(raw).safeParse(raw);
    if (result.success) {
        const { primary, primaries, remotes: given = [], sample, ...rest } = result.data;
        const all = primaries ?? [primary as ClusterConfig];
        const remotes = given.map((r): RemoteConfig => ({ ...r, primary: (r as Partial<RemoteConfig>).primary ?? all[0].name }));
        // The page's placement: v1 on the (first) primary, v2 on the first remote (else the second primary).
        const second = remotes[0] ?? all[1];
        const versions = sample.versions ?? { [all[0].name]: ["v1"], [second.name]: ["v2"] };
        return { ...rest, primary: all[0], primaries: all, remotes, sample: { ...sample, versions } };
    }
    const problems = result.error.issues.flatMap((issue) => {
        if (issue.code === "unrecognized_keys") {
            return issue.keys.map(
                (k) => `${formatPath([...issue.path, k])}: unknown key; expected ${issue.message}`,
            );
        }
        const where = formatPath(issue.path) || "(the configuration)";
        return [`${where}: expected ${issue.message}, found ${describeFound(issue.path, valueAt(raw, issue.path))}`];
    });
    throw new StackConfigError(problems);
}
