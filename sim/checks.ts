/**
 * What the e2e reads back from the simulated clusters and from istiod, as small functions over
 * @kubernetes/client-node and istiod's debug and xDS ports. Each returns what it saw; the e2e asserts.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { AdmissionregistrationV1Api, AutoscalingV2Api, CoreV1Api, KubeConfig, PolicyV1Api, type V1Pod } from "@kubernetes/client-node";
import * as YAML from "yaml";
import { CHART_KEYS, type IstioChart } from "../lib/chart-keys";
import { findLocalChart } from "../lib/charts";
import type { MeshNetworks } from "../lib/istio-values";
import { istiodHttpAddress } from "./istiod";
import { POD_NETNS_PREFIX } from "./kubelet/kubelet";
import { type SimState, kubeConfigOf } from "./state";
import type { SimCluster } from "./topology";

export const coreOf = (state: SimState, cluster: SimCluster) => kubeConfigOf(state, cluster).makeApiClient(CoreV1Api);

/** `istio-system` of a cluster: its labels and annotations. */
export async function istioSystem(state: SimState, cluster: SimCluster) {
    const ns = await coreOf(state, cluster).readNamespace({ name: "istio-system" });
    return { labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} };
}

/** Whether each cluster's `cacerts` intermediate is signed by a root, and that root's fingerprint. */
export async function cacertsChain(state: SimState, cluster: SimCluster) {
    const secret = await coreOf(state, cluster).readNamespacedSecret({ name: "cacerts", namespace: "istio-system" });
    const pem = (key: string) => Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
    const ca = new X509Certificate(pem("ca-cert.pem"));
    const root = new X509Certificate(pem("root-cert.pem"));
    return { chainsToRoot: ca.verify(root.publicKey) && ca.checkIssued(root), root: root.fingerprint256 };
}

/** Whether a cluster holds a `cacerts` Secret (a CA key) in istio-system. */
export async function hasCacerts(state: SimState, cluster: SimCluster): Promise<boolean> {
    return coreOf(state, cluster)
        .readNamespacedSecret({ name: "cacerts", namespace: "istio-system" })
        .then(() => true)
        .catch((e: unknown) => {
            if ((e as { code?: number }).code === 404) return false;
            throw e;
        });
}

/** The fingerprint of the root istiod wrote into a namespace (`istio-ca-root-cert`), and who wrote it. */
export async function caRootCertOf(state: SimState, cluster: SimCluster, namespace: string) {
    const cm = await coreOf(state, cluster).readNamespacedConfigMap({ name: "istio-ca-root-cert", namespace });
    return {
        root: new X509Certificate(cm.data?.["root-cert.pem"] ?? "").fingerprint256,
        writtenBy: cm.metadata?.managedFields?.map((f) => f.manager).filter(Boolean) ?? [],
    };
}

/** The remote secret of `remote` on the primary, and whether the remote's API server accepts its kubeconfig. */
export async function remoteSecret(state: SimState, primary: SimCluster, remote: SimCluster) {
    const name = `istio-remote-secret-${remote.name}`;
    const secret = await coreOf(state, primary).readNamespacedSecret({ name, namespace: "istio-system" });
    const keys = Object.keys(secret.data ?? {});
    const kubeconfig = Buffer.from(secret.data?.[remote.name] ?? "", "base64").toString("utf8");
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    return {
        name: secret.metadata?.name,
        label: secret.metadata?.labels?.["istio/multiCluster"],
        annotation: secret.metadata?.annotations?.["networking.istio.io/cluster"],
        keys,
        server: kc.getCurrentCluster()?.server,
        tokenAccepted: await tokenAccepted(kubeconfig),
        /** A fingerprint of the token, to tell tokens apart without keeping one. */
        tokenFingerprint: createHash("sha256").update(kc.getCurrentUser()?.token ?? "").digest("hex").slice(0, 12),
        /** Kept in memory only (never in the report): to check the old token once it is rotated. */
        kubeconfig,
    };
}

/** Whether an API server accepts the kubeconfig's credentials (listing namespaces needs a valid token). */
export async function tokenAccepted(kubeconfig: string): Promise<boolean> {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    return kc
        .makeApiClient(CoreV1Api)
        .listNamespace({ limit: 1 })
        .then(() => true)
        .catch(() => false);
}

/** The mesh networks istiod reads from the primary's `istio` ConfigMap. */
export async function meshNetworksOf(state: SimState, primary: SimCluster): Promise<MeshNetworks> {
    const cm = await coreOf(state, primary).readNamespacedConfigMap({ name: "istio", namespace: "istio-system" });
    return YAML.parse(cm.data?.meshNetworks ?? "{}") as MeshNetworks;
}

/** The east-west gateway's load-balancer address of a cluster. */
export async function gatewayAddress(state: SimState, cluster: SimCluster): Promise<string | undefined> {
    const svc = await coreOf(state, cluster).readNamespacedService({ name: "istio-eastwestgateway", namespace: "istio-system" });
    return svc.status?.loadBalancer?.ingress?.[0]?.ip;
}

const injected = (p: V1Pod) =>
    [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].some((c) => c.name === "istio-proxy") &&
    p.metadata?.labels?.["security.istio.io/tlsMode"] === "istio";

/** The revision whose injector injected a pod (`sidecar.istio.io/status`), "" without one. */
function injectedBy(p: V1Pod): string {
    try {
        return (JSON.parse(p.metadata?.annotations?.["sidecar.istio.io/status"] ?? "{}") as { revision?: string }).revision ?? "";
    } catch {
        return "";
    }
}

/** What keeps a cluster's network gateway up through a drain: its autoscaler's minimum and its disruption budget. */
export async function gatewayDisruption(state: SimState, cluster: SimCluster) {
    const kc = kubeConfigOf(state, cluster);
    const name = "istio-eastwestgateway";
    const hpa = await kc.makeApiClient(AutoscalingV2Api).readNamespacedHorizontalPodAutoscaler({ name, namespace: "istio-system" });
    const pdb = await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name, namespace: "istio-system" });
    return { minReplicas: hpa.spec?.minReplicas, minAvailable: pdb.spec?.minAvailable };
}

/** The sample's pods of a cluster (or another namespace's): app, version, IP, whether injection gave them a sidecar, and which revision did. */
export async function samplePods(state: SimState, cluster: SimCluster, namespace = "sample") {
    const pods = await coreOf(state, cluster)
        .listNamespacedPod({ namespace })
        .then((l) => l.items)
        .catch(() => [] as V1Pod[]);
    return pods
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => ({
            app: p.metadata?.labels?.app,
            version: p.metadata?.labels?.version,
            ip: p.status?.podIP,
            injected: injected(p),
            revision: injectedBy(p),
            name: p.metadata?.name ?? "",
        }));
}

/** The objects of a revision left on a cluster (webhooks, Services, ConfigMaps, Deployments labelled `istio.io/rev`). */
export async function revisionObjects(state: SimState, cluster: SimCluster, revision: string): Promise<string[]> {
    const kc = kubeConfigOf(state, cluster);
    const core = kc.makeApiClient(CoreV1Api);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const labelSelector = `istio.io/rev=${revision}`;
    const names = (kind: string, items: { metadata?: { name?: string } }[]) => items.map((i) => `${kind} ${i.metadata?.name ?? ""}`);
    return [
        ...names("MutatingWebhookConfiguration", (await admission.listMutatingWebhookConfiguration({ labelSelector })).items),
        ...names("ValidatingWebhookConfiguration", (await admission.listValidatingWebhookConfiguration({ labelSelector })).items),
        ...names("Service", (await core.listNamespacedService({ namespace: "istio-system", labelSelector })).items),
        ...names("ConfigMap", (await core.listNamespacedConfigMap({ namespace: "istio-system", labelSelector })).items),
        ...names("Pod", (await core.listNamespacedPod({ namespace: "istio-system", labelSelector })).items),
    ];
}

/** What is left of the mesh on a cluster after `pulumi destroy`. */
export async function leftovers(state: SimState, cluster: SimCluster): Promise<string[]> {
    const kc = kubeConfigOf(state, cluster);
    const core = kc.makeApiClient(CoreV1Api);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const found: string[] = [];
    for (const w of (await admission.listMutatingWebhookConfiguration()).items) if (/istio/.test(w.metadata?.name ?? "")) found.push(`MutatingWebhookConfiguration ${w.metadata?.name}`);
    for (const w of (await admission.listValidatingWebhookConfiguration()).items) if (/istio/.test(w.metadata?.name ?? "")) found.push(`ValidatingWebhookConfiguration ${w.metadata?.name}`);
    for (const ns of (await core.listNamespace()).items) {
        const name = ns.metadata?.name ?? "";
        if (ns.status?.phase === "Terminating") found.push(`Namespace ${name} stuck terminating`);
        else if (name === "istio-system" || name === "sample") found.push(`Namespace ${name}`);
    }
    for (const s of (await core.listSecretForAllNamespaces()).items) {
        const name = s.metadata?.name ?? "";
        if (name.startsWith("istio-remote-secret-") || name.startsWith("sh.helm.release.v1.")) found.push(`Secret ${s.metadata?.namespace}/${name}`);
    }
    return found;
}

/** Each Helm release on a cluster (`<namespace>/<name> v<revision>`) with its status, from Helm's release Secrets. */
export async function helmReleases(state: SimState, cluster: SimCluster): Promise<Record<string, string>> {
    const secrets = await coreOf(state, cluster).listSecretForAllNamespaces({ labelSelector: "owner=helm" });
    return Object.fromEntries(
        secrets.items.map((s) => [`${s.metadata?.namespace}/${s.metadata?.labels?.name} v${s.metadata?.labels?.version}`, s.metadata?.labels?.status ?? "?"]),
    );
}

/**
 * The address of a primary's running istiod of `revision` ("" : the one without revision; the first
 * cluster's unless `cluster` names another); each listens on its pod's address (sim/istiod.ts).
 */
export async function istiodAddress(state: SimState, revision = "", cluster: SimCluster = state.clusters[0]): Promise<string> {
    const core = kubeConfigOf(state, cluster).makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: "istio-system", labelSelector: `app=istiod,istio.io/rev=${revision || "default"}` });
    const running = pods.items.find((p) => p.status?.phase === "Running" && p.status.podIP && !p.metadata?.deletionTimestamp);
    if (!running?.status?.podIP) throw new Error(`no running istiod pod of revision ${revision || "default"} on ${cluster.name}`);
    return running.status.podIP;
}

/** One of istiod's debug views (`/debug/<view>`, on its loopback twin's HTTP port), as JSON. */
async function istiodDebug<T>(address: string, view: string, timeoutMs = 30_000): Promise<T> {
    const res = await fetch(`http://${istiodHttpAddress(address)}:8080/debug/${view}`, { signal: AbortSignal.timeout(timeoutMs) });
    return (await res.json()) as T;
}

/** istiod's debug view of the clusters it watches: id → sync status. */
export async function istiodClusters(address: string, timeoutMs = 30_000): Promise<Record<string, string>> {
    const list = await istiodDebug<{ id: string; syncStatus: string }[]>(address, "clusterz", timeoutMs);
    return Object.fromEntries(list.map((c) => [c.id, c.syncStatus]));
}

/** The proxies connected to istiod: each one's cluster and name (`/debug/syncz`). */
export function istiodProxies(address: string): Promise<{ cluster_id: string; proxy: string }[]> {
    return istiodDebug(address, "syncz");
}

export async function istiodReady(address: string): Promise<boolean> {
    return fetch(`http://${istiodHttpAddress(address)}:8080/ready`)
        .then((r) => r.ok)
        .catch(() => false);
}

/** helloworld's Envoy cluster, as a sidecar calling `helloworld.sample:5000` knows it. */
const HELLO = "outbound|5000||helloworld.sample.svc.cluster.local";

/**
 * The endpoints istiod (at `istiod`) sends a sidecar of `cluster`/`network` in the sample's namespace for
 * helloworld's Envoy cluster (sim/toolchain/istio/cmd/xds-probe, Istio's own ADS client). The sidecar
 * claims an address of the cluster's pod range that no pod gets (`<a>.<b>.250.250`).
 */
export function xdsEndpoints(state: SimState, istiod: string, cluster: SimCluster): string[] {
    const sidecarIp = `${cluster.podCIDR.split(".").slice(0, 2).join(".")}.250.250`;
    const out = execFileSync(
        path.join(state.binDir, "xds-probe"),
        ["-address", `${istiod}:15010`, "-cluster-id", cluster.name, "-network", cluster.network, "-namespace", "sample", "-ip", sidecarIp, "-cluster", HELLO, "-timeout", "10s"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    // Istio's log (adsc's, on stdout too) can follow the result: take the result's line.
    const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop() ?? "{}";
    return (JSON.parse(line) as { endpoints: string[] }).endpoints;
}

/**
 * Every process of the environment: those in its network namespace and in its pods' own namespaces
 * (sim/kubelet runs each pod's processes in one of its own).
 */
function environmentPids(netns: string): string[] {
    // What `ip netns pids` does, without a process per namespace (the CPU sampler asks every second):
    // a process is in a namespace when its /proc/<pid>/ns/net is the inode bound at /run/netns/<name>.
    const names = fs.readdirSync("/run/netns").filter((n) => n === netns || n.startsWith(POD_NETNS_PREFIX));
    const inodes = new Set(
        names.flatMap((n) => {
            try {
                return [fs.statSync(path.join("/run/netns", n)).ino];
            } catch {
                return []; // removed meanwhile
            }
        }),
    );
    return fs.readdirSync("/proc").filter((pid) => {
        if (!/^\d+$/.test(pid)) return false;
        try {
            return inodes.has(Number(/^net:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/ns/net`))?.[1]));
        } catch {
            return false; // exited meanwhile
        }
    });
}

/** Resident memory of every process of the environment (MiB), pods' included: its whole footprint. */
export function environmentMemoryMiB(netns: string): number {
    let kib = 0;
    for (const pid of environmentPids(netns)) {
        try {
            kib += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
        } catch {
            // exited meanwhile
        }
    }
    return Math.round(kib / 1024);
}

/**
 * What a process of the environment is, for where CPU time goes: the Pulumi engine, its providers
 * (Helm runs inside the Kubernetes provider), the policy pack, the program (run inline by the
 * Automation API, in the calling process), each cluster's control plane, istiod, the data plane's
 * agents, the stand-ins of ours.
 */
export function processGroup(argv: readonly string[], self = process.pid, pid = -1): string {
    const bin = path.basename(argv[0] ?? "");
    const groups: [RegExp, string][] = [
        [/^pulumi$/, "pulumi engine (CLI)"],
        [/^pulumi-resource-kubernetes/, "kubernetes provider (and Helm)"],
        [/^pulumi-resource-tls/, "tls provider"],
        [/^etcd$/, "API servers: etcd"],
        [/^kube-apiserver$/, "API servers: kube-apiserver"],
        [/^kube-controller-manager$/, "API servers: kube-controller-manager"],
        [/^kube-scheduler$/, "API servers: kube-scheduler"],
        [/^kwok/, "kwok (nodes, pod status)"],
        [/^pilot-discovery/, "istiod"],
        [/^pilot-agent/, "pilot-agent (data plane)"],
        [/^(envoy-stand-in|echo-server|echo-client)/, "Envoy stand-in and echo apps (data plane)"],
    ];
    const found = groups.find(([re]) => re.test(bin));
    if (found) return found[1];
    if (/^node/.test(bin)) {
        if (argv.some((a) => a.includes("run-policy-pack"))) return "policy pack";
        if (argv.some((a) => a.includes("supervisor"))) return "sim supervisor (kubelet, kube-proxy stand-ins)";
        if (pid === self) return "program (inline) and the benchmark";
    }
    return `other (${bin})`;
}

/** CPU seconds (user + system) of each environment process now, by pid, with its group. */
function cpuNow(netns: string): Map<string, { group: string; seconds: number }> {
    const tick = 100; // USER_HZ on Linux
    const out = new Map<string, { group: string; seconds: number }>();
    for (const pid of environmentPids(netns)) {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
            out.set(pid, { group: processGroup(argv, process.pid, Number(pid)), seconds: (Number(fields[11]) + Number(fields[12])) / tick });
        } catch {
            // exited meanwhile
        }
    }
    return out;
}

/**
 * CPU seconds each group of processes spends while `work` runs, sampled every second (a process that
 * exits between samples loses at most its last second): where the time of an `up` goes.
 */
export async function cpuDuring<T>(netns: string, work: () => Promise<T>): Promise<[T, Record<string, number>]> {
    const first = cpuNow(netns);
    const last = new Map(first);
    const sample = () => {
        for (const [pid, v] of cpuNow(netns)) last.set(pid, v);
    };
    const timer = setInterval(sample, 1000);
    try {
        const result = await work();
        sample();
        const byGroup: Record<string, number> = {};
        for (const [pid, v] of last) byGroup[v.group] = (byGroup[v.group] ?? 0) + v.seconds - (first.get(pid)?.seconds ?? 0);
        const rounded = Object.entries(byGroup).map(([g, n]): [string, number] => [g, Math.round(n * 10) / 10]);
        return [result, Object.fromEntries(rounded.sort((a, b) => b[1] - a[1]))];
    } finally {
        clearInterval(timer);
    }
}

/**
 * The Helm values the program sets (lib/chart-keys.ts) that the charts in `chartDirectory` do not
 * define: each dotted key must exist in the chart's values.yaml (under `_internal_defaults_do_not_set`
 * where the chart nests them) or be read by one of its templates (itself, or the map holding it as a
 * whole, like `podDisruptionBudget` or `resources`), `profile` needs the chart's `files/profile-remote.yaml`,
 * and `meshConfig.*` needs `meshConfig` (a free-form map merged into the mesh config).
 */
export function missingChartKeys(chartDirectory: string, version: string): string[] {
    const missing: string[] = [];
    for (const chart of Object.keys(CHART_KEYS) as IstioChart[]) {
        const dir = findLocalChart(chartDirectory, chart, version);
        if (dir === undefined) {
            missing.push(`${chart}: the chart itself`);
            continue;
        }
        const parsed = (YAML.parse(fs.readFileSync(path.join(dir, "values.yaml"), "utf8")) ?? {}) as Record<string, unknown>;
        const values = (parsed._internal_defaults_do_not_set ?? parsed) as Record<string, unknown>;
        const templatesDir = path.join(dir, "templates");
        const templates = fs.existsSync(templatesDir)
            ? fs.readdirSync(templatesDir).map((f) => fs.readFileSync(path.join(templatesDir, f), "utf8")).join("\n")
            : "";
        // A template reads the key, or the map holding it as a whole (`toYaml .Values.resources`, `with .Values.podDisruptionBudget`).
        const read = (key: string) => {
            const segments = key.split(".");
            return segments.some((_, i) => new RegExp(`\\.Values\\.${segments.slice(0, i + 1).join("\\.")}(?![.\\w])`).test(templates));
        };
        for (const key of Object.keys(CHART_KEYS[chart])) {
            const found =
                key === "profile"
                    ? fs.existsSync(path.join(dir, "files", "profile-remote.yaml"))
                    : key.startsWith("meshConfig.")
                      ? "meshConfig" in values
                      : key.split(".").reduce<unknown>((v, k) => (v !== null && typeof v === "object" && k in v ? (v as Record<string, unknown>)[k] : undefined), values) !== undefined ||
                        read(key);
            if (!found) missing.push(`${chart}: ${key}`);
        }
    }
    return missing;
}
