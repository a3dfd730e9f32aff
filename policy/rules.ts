/**
 * The guardrails the preview runs (policy pack `istio-multicluster`), as plain resource validations so
 * each can be unit-tested with a resource that passes and one that violates.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

type Props = Record<string, unknown>;
const get = (value: unknown, ...path: (string | number)[]): unknown =>
    path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined), value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const kindOf = (type: string) => type.split(":").pop() ?? "";
const isIstio = (type: string, group: string, kind: string) => type.startsWith(`kubernetes:${group}/`) && kindOf(type) === kind;

/** Every Kubernetes object names its cluster's provider; a default provider would use whatever context is current. */
export const explicitKubernetesProvider: ResourceValidationPolicy = {
    name: "kubernetes-explicit-provider",
    description: "Kubernetes resources must use an explicit provider (their cluster), never a default provider.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (!args.type.startsWith("kubernetes:")) return;
        const provider = args.provider?.name;
        if (provider === undefined || provider.startsWith("default")) {
            reportViolation(`${args.name} is on ${provider ? `the default provider ${provider}` : "no explicit provider"}; give it its cluster's provider`);
        }
    },
};

const WEAK_MTLS = new Set(["PERMISSIVE", "DISABLE"]);

/** Mesh-wide STRICT mTLS is what keeps cross-network traffic authenticated: nothing may weaken it. */
export const strictMtls: ResourceValidationPolicy = {
    name: "mtls-not-weakened",
    description: "No PeerAuthentication below STRICT, no DestinationRule disabling TLS.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        const spec = get(args.props, "spec");
        if (isIstio(args.type, "security.istio.io", "PeerAuthentication")) {
            const modes = [get(spec, "mtls", "mode"), ...Object.values((get(spec, "portLevelMtls") as Props | undefined) ?? {}).map((p) => get(p, "mode"))];
            const weak = modes.filter((m): m is string => typeof m === "string" && WEAK_MTLS.has(m));
            if (weak.length > 0) reportViolation(`PeerAuthentication ${args.name} sets mTLS ${weak.join(", ")}; the mesh requires STRICT`);
        }
        if (isIstio(args.type, "networking.istio.io", "DestinationRule")) {
            const policies = [get(spec, "trafficPolicy"), ...list(get(spec, "subsets")).map((s) => get(s, "trafficPolicy"))];
            const tlsModes = policies.flatMap((p) => [get(p, "tls", "mode"), ...list(get(p, "portLevelSettings")).map((s) => get(s, "tls", "mode"))]);
            if (tlsModes.includes("DISABLE")) reportViolation(`DestinationRule ${args.name} disables TLS; traffic in the mesh must stay mTLS`);
        }
    },
};

const SECRET_PATTERNS: [RegExp, string][] = [
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
    [/(client-key-data|client-certificate-data)\s*:/, "kubeconfig credentials"],
    [/(^|\s)token\s*:\s*\S{16,}/m, "a token"],
    [/(password|passwd|secret)\s*[:=]\s*\S+/i, "a password"],
];

/** ConfigMaps are readable by anyone who can read the namespace: secrets belong in Secrets. */
export const noSecretsInConfigMaps: ResourceValidationPolicy = {
    name: "no-plaintext-secrets-in-configmaps",
    description: "ConfigMaps (and ConfigMap patches) must not hold private keys, tokens, passwords or kubeconfig credentials.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (!["kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch"].includes(args.type)) return;
        for (const [key, value] of Object.entries((get(args.props, "data") as Props | undefined) ?? {})) {
            const found = SECRET_PATTERNS.find(([pattern]) => typeof value === "string" && pattern.test(value));
            if (found) reportViolation(`ConfigMap ${args.name} key ${key} holds ${found[1]}; use a Secret`);
        }
    },
};

/** istiod only picks up remote secrets labelled, annotated and keyed as `istioctl create-remote-secret` makes them. */
export const remoteSecretShape: ResourceValidationPolicy = {
    name: "remote-secret-as-istiod-expects",
    description: "Remote secrets carry label istio/multiCluster=true, annotation networking.istio.io/cluster, and one data key: that cluster.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.type !== "kubernetes:core/v1:Secret") return;
        const metadata = get(args.props, "metadata");
        const name = get(metadata, "name");
        const labels = (get(metadata, "labels") as Props | undefined) ?? {};
        if (!(typeof name === "string" && name.startsWith("istio-remote-secret-")) && !("istio/multiCluster" in labels)) return;
        const cluster = get(metadata, "annotations", "networking.istio.io/cluster");
        const problems: string[] = [];
        if (labels["istio/multiCluster"] !== "true") problems.push('label istio/multiCluster must be "true"');
        if (typeof cluster !== "string" || cluster === "") problems.push("annotation networking.istio.io/cluster must name the cluster");
        const keys = Object.keys({ ...((get(args.props, "data") as Props | undefined) ?? {}), ...((get(args.props, "stringData") as Props | undefined) ?? {}) });
        if (typeof cluster === "string" && (keys.length !== 1 || keys[0] !== cluster)) problems.push(`its one data key must be the cluster name ${cluster} (found ${keys.join(", ") || "none"})`);
        if (problems.length > 0) reportViolation(`remote secret ${args.name}: ${problems.join("; ")}`);
    },
};

const RELEASE = "kubernetes:helm.sh/v3:Release";
const text = (v: unknown) => (typeof v === "string" ? v : "");
const MWC = "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration";

/**
 * What injection resolves to on each cluster (by provider): the revisions of its istiod releases
 * (`istiod`, `istiod-<rev>`: "" is the control plane without revision, which is also the default), and
 * whether a `default` tag exists (that control plane, or the `istio-revision-tag-default` webhook).
 */
function injectionTargets(resources: readonly PolicyResource[]): Map<string, { revisions: Set<string>; hasDefault: boolean }> {
    const clusters = new Map<string, { revisions: Set<string>; hasDefault: boolean }>();
    const of = (r: PolicyResource) => {
        const key = r.provider?.name ?? "";
        let c = clusters.get(key);
        if (c === undefined) clusters.set(key, (c = { revisions: new Set(), hasDefault: false }));
        return c;
    };
    for (const r of resources) {
        if (r.type === RELEASE && /^istiod(-|$)/.test(text(get(r.props, "name")))) {
            const revision = get(r.props, "values", "revision");
            const c = of(r);
            c.revisions.add(typeof revision === "string" ? revision : "");
            if (typeof revision !== "string" || revision === "") c.hasDefault = true;
        }
        if (r.type === MWC && get(r.props, "metadata", "name") === "istio-revision-tag-default") of(r).hasDefault = true;
    }
    return clusters;
}

/** A namespace asking for injection from a control plane the stack does not install would get no sidecar, or fail its pods. */
export const injectionResolves: StackValidationPolicy = {
    name: "injection-resolves-to-an-installed-revision",
    description: "A namespace labelled istio.io/rev names a revision (or the default tag) the stack installs on its cluster; istio-injection=enabled needs the default tag.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const targets = injectionTargets(args.resources);
        for (const ns of args.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace")) {
            const labels = (get(ns.props, "metadata", "labels") as Props | undefined) ?? {};
            const target = targets.get(ns.provider?.name ?? "") ?? { revisions: new Set<string>(), hasDefault: false };
            const installed = [...target.revisions].filter((r) => r !== "");
            const where = `namespace ${text(get(ns.props, "metadata", "name")) || ns.name} on ${ns.provider?.name ?? "the default cluster"}`;
            const rev = labels["istio.io/rev"];
            if (typeof rev === "string" && !(target.revisions.has(rev) || (rev === "default" && target.hasDefault))) {
                reportViolation(`${where} has istio.io/rev=${rev}, a revision not installed there (${installed.join(", ") || "none"})`, ns.urn);
            }
            if (labels["istio-injection"] === "enabled" && !target.hasDefault) {
                reportViolation(`${where} has istio-injection=enabled, but no default revision is installed there`, ns.urn);
            }
        }
    },
};

/**
 * Every remote's injection and xDS cross the primary's network gateway, and cross-network traffic
 * crosses every gateway: one pod, restarted or drained, stops them all. The gateway chart keeps at least
 * `autoscaling.minReplicas` pods (`replicaCount` with autoscaling off) and renders `podDisruptionBudget`.
 */
export const networkGatewaySurvivesADrain: ResourceValidationPolicy = {
    name: "network-gateway-survives-a-drain",
    description: "A network gateway runs at least two pods and a PodDisruptionBudget that keeps one through a node drain.",
    enforcementLevel: "advisory",
    validateResource: (args, reportViolation) => {
        if (args.type !== RELEASE || text(get(args.props, "values", "networkGateway")) === "") return;
        const values = get(args.props, "values");
        const autoscaling = get(values, "autoscaling", "enabled") !== false;
        const min = Number(autoscaling ? (get(values, "autoscaling", "minReplicas") ?? 1) : (get(values, "replicaCount") ?? 1));
        const minAvailable = get(values, "podDisruptionBudget", "minAvailable");
        const maxUnavailable = get(values, "podDisruptionBudget", "maxUnavailable");
        const keeps = typeof minAvailable === "number" ? minAvailable >= 1 && minAvailable < min : typeof maxUnavailable === "number" && maxUnavailable < min;
        if (min < 2 || !keeps) {
            reportViolation(
                `network gateway ${args.name} runs ${min < 2 ? `${min} pod` : `${min} pods without a disruption budget keeping one`}: ` +
                    "a restart or node drain of it stops injection, xDS and cross-network traffic for every cluster behind it (set gateway.replicas to 2 or more)",
            );
        }
    },
};

/** The clusters running istiod (an istiod release not of the `remote` profile), and every cluster with a network gateway, by provider. */
function meshClusters(resources: readonly PolicyResource[]): { istiod: Set<string>; all: Set<string> } {
    const istiod = new Set<string>();
    const all = new Set<string>();
    for (const r of resources.filter((x) => x.type === RELEASE)) {
        const provider = r.provider?.name ?? "";
        if (/^istiod(-|$)/.test(text(get(r.props, "name"))) && get(r.props, "values", "profile") !== "remote") istiod.add(provider);
        if (text(get(r.props, "values", "networkGateway")) !== "") all.add(provider);
    }
    return { istiod, all };
}

/**
 * The topology as Istio needs it, whatever its shape: every istiod watches every other cluster of the
 * mesh (a remote secret for it, so it knows every endpoint: multi-primary's point), the mesh networks
 * are the same in every istiod (Istio: if kept, they must be), and CA keys are only where istiod runs.
 */
export const meshTopology: StackValidationPolicy = {
    name: "every-istiod-watches-the-mesh",
    description: "Every cluster running istiod has a remote secret for every other cluster; mesh networks agree; cacerts only where istiod runs.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const { istiod, all } = meshClusters(args.resources);
        const watched = new Map<string, Set<string>>();
        const networks = new Set<string>();
        for (const r of args.resources) {
            const provider = r.provider?.name ?? "";
            const metadata = get(r.props, "metadata");
            if (r.type === "kubernetes:core/v1:Secret" && get(metadata, "labels", "istio/multiCluster") === "true") {
                const c = text(get(metadata, "annotations", "networking.istio.io/cluster"));
                watched.set(provider, (watched.get(provider) ?? new Set()).add(c));
            }
            if (r.type === "kubernetes:core/v1:Secret" && get(metadata, "name") === "cacerts" && !istiod.has(provider)) {
                reportViolation(`${r.name} puts CA keys (cacerts) on ${provider}, where no istiod runs`, r.urn);
            }
            const meshNetworks = get(r.props, "data", "meshNetworks");
            if (r.type === "kubernetes:core/v1:ConfigMapPatch" && typeof meshNetworks === "string") networks.add(meshNetworks);
        }
        for (const p of istiod) {
            const missing = [...all].filter((c) => c !== p && !watched.get(p)?.has(c));
            if (missing.length > 0) reportViolation(`istiod on ${p} does not watch ${missing.join(", ")}: no remote secret for it there, so it knows none of its endpoints`);
        }
        if (networks.size > 1) reportViolation(`the istiods' mesh networks differ (${networks.size} versions): every istiod must route to the same gateways`);
    },
};

export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    explicitKubernetesProvider,
    strictMtls,
    noSecretsInConfigMaps,
    remoteSecretShape,
    injectionResolves,
    meshTopology,
    networkGatewaySurvivesADrain,
];
