/**
 * The simulated environment's layout, as pure functions: cluster names and networks, the address
 * ranges of each cluster (all inside 10.0.0.0/8, which the environment's network namespace makes
 * local, so nothing ever leaves it), and the stack config it writes for the program.
 */
import * as YAML from "yaml";

/** The network namespace every process of the environment runs in. */
export const NETNS = "istio-mc-sim";
/** The range made local inside the namespace: every cluster, pod, node and load-balancer address. */
export const LOCAL_RANGE = "10.0.0.0/8";
/**
 * The namespace's own address (on its veth): API servers bind every address and kwokctl puts the
 * host's addresses in their certificates, so istiod reaches each API server here, as a primary reaches
 * a remote's over the network (not on loopback, which the program refuses for a remote).
 */
export const HOST_ADDRESS = "10.255.255.1";

/** An API server URL of kwokctl's kubeconfig (`https://127.0.0.1:<port>`) at the namespace's own address. */
export function apiServerAtHostAddress(server: string): string {
    const url = new URL(server);
    url.hostname = HOST_ADDRESS;
    return url.toString().replace(/\/$/, "");
}

/** The stack the environment writes a config for (`Pulumi.sim.yaml`). */
export const STACK = "sim";

export interface SimCluster {
    /** Istio cluster name, also the kwok cluster name. */
    readonly name: string;
    readonly network: string;
    readonly role: "primary" | "remote";
    /** The context of the environment's kubeconfig (`kwok-<name>`, as kwokctl names it). */
    readonly context: string;
    /** The node's `spec.podCIDR`: kwok gives pods addresses from it. */
    readonly podCIDR: string;
    /** The API server's `--service-cluster-ip-range`: ClusterIPs, distinct across clusters (one namespace holds all). */
    readonly serviceCIDR: string;
    /** The node's InternalIP. */
    readonly nodeIP: string;
    /** Load-balancer addresses are `<lbPrefix>.<n>`. */
    readonly lbPrefix: string;
    /**
     * The ports of its control plane's components, in the namespace (kwokctl's `options`). Each cluster
     * has its own, so that the clusters can be created at once: kwokctl's own choice of a free port is
     * the first one down from 32767 it can bind, the same for processes choosing at the same time.
     */
    readonly ports: {
        readonly kubeApiserverPort: number;
        readonly etcdPort: number;
        readonly etcdPeerPort: number;
        readonly kubeControllerManagerPort: number;
        readonly kubeSchedulerPort: number;
        readonly kwokControllerPort: number;
    };
}

/** A primary and `remotes` remotes: cluster<i>/network<i>, each with ranges of its own. */
export function clusterPlan(remotes: number): SimCluster[] {
    if (!Number.isInteger(remotes) || remotes < 1 || remotes > 50) throw new Error(`--remotes: expected 1 to 50, found ${remotes}`);
    return Array.from({ length: remotes + 1 }, (_, i) => ({
        name: `cluster${i + 1}`,
        network: `network${i + 1}`,
        role: i === 0 ? "primary" : "remote",
        context: `kwok-cluster${i + 1}`,
        podCIDR: `10.${100 + i}.0.0/16`,
        serviceCIDR: `10.${40 + i}.0.0/16`,
        nodeIP: `10.${160 + i}.0.1`,
        lbPrefix: `10.${200 + i}.0`,
        ports: {
            kubeApiserverPort: 31000 + 10 * i,
            etcdPort: 31001 + 10 * i,
            etcdPeerPort: 31002 + 10 * i,
            kubeControllerManagerPort: 31003 + 10 * i,
            kubeSchedulerPort: 31004 + 10 * i,
            kwokControllerPort: 31005 + 10 * i,
        },
    }));
}

/** The n-th load-balancer address of a cluster (n ≥ 1). */
export function loadBalancerAddress(cluster: SimCluster, n: number): string {
    if (n < 1 || n > 254) throw new Error(`no load-balancer address ${n} in ${cluster.lbPrefix}.0/24`);
    return `${cluster.lbPrefix}.${n}`;
}

export interface StackConfigInput {
    readonly clusters: readonly SimCluster[];
    /** The environment's kubeconfig (absolute path). */
    readonly kubeconfig: string;
    /** API server URL of each cluster, as istiod (in the same namespace) reaches it. */
    readonly apiServers: Readonly<Record<string, string>>;
    /** Istio's charts, built from the Go modules that embed them (`<chart>-<version>/`). */
    readonly chartDirectory: string;
    /** The `istio` keys besides the chart repository: a version, or revisions and the default one. */
    readonly istio: {
        readonly version?: string;
        readonly revisions?: readonly { readonly version: string; readonly name?: string }[];
        readonly defaultRevision?: string;
        readonly baseVersion?: string;
        readonly istiod?: Readonly<Record<string, unknown>>;
        readonly values?: Readonly<Record<string, unknown>>;
    };
    /** `gateway` settings of clusters, by cluster name. */
    readonly gateways?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
    /** `sample.revision`: the revision the sample namespace is pinned to. */
    readonly sampleRevision?: string;
    /** The CA files (`<cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem`). */
    readonly caDirectory: string;
    /**
     * Where the mesh's CA comes from: `generate`, the program's default (@pulumi/tls, through the tls
     * provider the toolchain builds), or `files`, the CA in `caDirectory` (made by openssl).
     * @default "generate"
     */
    readonly ca?: "generate" | "files";
    /** helloworld versions by cluster; default: the page's placement. */
    readonly sampleVersions?: Readonly<Record<string, readonly string[]>>;
    /** `tokenRotation` of remotes, by cluster name. */
    readonly tokenRotations?: Readonly<Record<string, string>>;
    /**
     * Another shape than one primary (the first cluster) with remotes: the clusters running istiod
     * (written as `primaries`), each remote's primary, and networks other than the cluster's own.
     */
    readonly topology?: SimTopology;
}

export interface SimTopology {
    readonly primaries: readonly string[];
    /** A remote's primary, by remote name (default: the first primary). */
    readonly primaryOf?: Readonly<Record<string, string>>;
    /** A cluster's network, by cluster name (default: its own, network<i>). */
    readonly networks?: Readonly<Record<string, string>>;
}

/** `Pulumi.sim.yaml`: the program's own keys and defaults; only where charts come from and the Istio version differ (and the CA, when `files`). */
export function stackConfigYaml(input: StackConfigInput): string {
    const cluster = (c: SimCluster) => ({
        name: c.name,
        network: c.network,
        kubeconfig: input.kubeconfig,
        context: c.context,
        apiServer: input.apiServers[c.name],
        ...(input.tokenRotations?.[c.name] !== undefined ? { tokenRotation: input.tokenRotations[c.name] } : {}),
        ...(input.gateways?.[c.name] !== undefined ? { gateway: input.gateways[c.name] } : {}),
    });
    const t = input.topology;
    const shaped = (c: SimCluster) => ({ ...cluster(c), ...(t?.networks?.[c.name] !== undefined ? { network: t.networks[c.name] } : {}) });
    const [first, ...rest] = input.clusters;
    const primaries = t ? input.clusters.filter((c) => t.primaries.includes(c.name)) : [first];
    const remotes = t ? input.clusters.filter((c) => !t.primaries.includes(c.name)) : rest;
    const config: Record<string, unknown> = {
        ...(t ? { "istio-multicluster:primaries": primaries.map(shaped) } : { "istio-multicluster:primary": cluster(first) }),
        "istio-multicluster:remotes": remotes.map((r) => ({ ...shaped(r), ...(t ? { primary: t.primaryOf?.[r.name] ?? t.primaries[0] } : {}) })),
        "istio-multicluster:istio": { ...input.istio, chartRepository: input.chartDirectory },
        ...(input.ca === "files" ? { "istio-multicluster:ca": { source: "files", directory: input.caDirectory } } : {}),
        "istio-multicluster:sample": {
            enabled: true,
            ...(input.sampleVersions ? { versions: input.sampleVersions } : {}),
            ...(input.sampleRevision !== undefined ? { revision: input.sampleRevision } : {}),
        },
    };
    return (
        "# Written by `npm run sim -- up`: the simulated clusters (kwok), Istio's charts built from their Go module,\n" +
        `# and ${input.ca === "files" ? "a CA made by the environment with openssl (ca.source: files)" : "the program's default CA (ca.source: generate, @pulumi/tls)"}.\n` +
        YAML.stringify({ config })
    );
}

/**
 * kwokctl's configuration for a cluster: its own Service range (every cluster's ClusterIPs live in
 * one namespace, where the environment's kube-proxy stand-in serves them). The API server calls
 * Service-backed webhooks at an endpoint address (a pod's, or the primary gateway's for a remote),
 * not at the ClusterIP, which its own host would need kube-proxy for. The controller-manager and
 * scheduler run without leader election: there is one of each, and with it they exit when the API
 * server is away for a while, with nothing here (no kubelet for them) to start them again.
 */
export function kwokctlConfigYaml(cluster: SimCluster): string {
    return YAML.stringify({
        apiVersion: "config.kwok.x-k8s.io/v1alpha1",
        kind: "KwokctlConfiguration",
        options: { ...cluster.ports },
        componentsPatches: [
            {
                name: "kube-apiserver",
                extraArgs: [
                    { key: "enable-aggregator-routing", value: "true" },
                    { key: "service-cluster-ip-range", value: cluster.serviceCIDR },
                ],
            },
            {
                name: "kube-controller-manager",
                extraArgs: [
                    { key: "leader-elect", value: "false" },
                    // The autoscaler first reconciles a new HorizontalPodAutoscaler one sync period after it is
                    // created (its queue's fixed-interval rate limiter): the gateways' second pods 5 s after
                    // install instead of the default 15 s, which the e2e's steps wait for.
                    { key: "horizontal-pod-autoscaler-sync-period", value: "5s" },
                ],
            },
            { name: "kube-scheduler", extraArgs: [{ key: "leader-elect", value: "false" }] },
        ],
    });
}

/** The simulated node of a cluster, as kwok manages it: schedulable, with the cluster's pod CIDR. */
export function nodeManifest(cluster: SimCluster) {
    return {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
            name: `${cluster.name}-node`,
            annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            labels: { "kubernetes.io/hostname": `${cluster.name}-node`, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
        },
        spec: { podCIDR: cluster.podCIDR, podCIDRs: [cluster.podCIDR] },
        status: {
            allocatable: { cpu: "64", memory: "256Gi", pods: "250" },
            capacity: { cpu: "64", memory: "256Gi", pods: "250" },
            addresses: [{ type: "InternalIP", address: cluster.nodeIP }],
            nodeInfo: { architecture: "amd64", operatingSystem: "linux", kubeletVersion: "fake", kubeProxyVersion: "fake" },
        },
    };
}
