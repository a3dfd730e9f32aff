/**
 * Pure functions that build the values that matter: Helm values of Istio's `base`, `istiod` and
 * `gateway` charts, the mesh networks, and the kubeconfig of a remote secret. Components only wire
 * their results; every key used here is listed, with the chart version it was checked against, in
 * lib/chart-keys.ts.
 */
import { isIP } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import type * as pulumi from "@pulumi/pulumi";

/** Istio's root namespace; the charts and istioctl assume it. */
export const ISTIO_SYSTEM = "istio-system";

/**
 * The east-west gateway as Istio's multicluster guides install it: release `istio-eastwestgateway`,
 * whose pods carry `istio: eastwestgateway` (the chart trims the `istio-` prefix).
 */
export const NETWORK_GATEWAY = {
    name: "istio-eastwestgateway",
    selector: { istio: "eastwestgateway" },
} as const;

/** The port of cross-network (mTLS, SNI-routed) traffic on a network gateway. */
export const CROSS_NETWORK_PORT = 15443;

/** Where Istio's charts come from and which images they run. */
export interface IstioChartSource {
    /** Istio release; chart version and image tag are the same. */
    readonly version: string;
    /** Helm repository (https:// or oci://) holding `base`, `istiod` and `gateway`. */
    readonly chartRepository: string;
    /** Image registry for Istio's images (`global.hub`). */
    readonly hub: string;
}

/** Resource requests and limits of a container, as Kubernetes quantities. */
export interface Resources {
    readonly requests?: { readonly cpu?: string; readonly memory?: string };
    readonly limits?: { readonly cpu?: string; readonly memory?: string };
}

/** How many pods a Deployment keeps at least (the chart's autoscaler never goes below it), and their size. */
export interface Sizing {
    readonly replicas?: number;
    readonly resources?: Resources;
}

/** A network gateway's pods and its LoadBalancer Service, as the cloud needs it. */
export interface NetworkGatewaySettings extends Sizing {
    readonly service?: {
        /** Cloud load balancer annotations (e.g. `service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing`). */
        readonly annotations?: Readonly<Record<string, string>>;
        readonly loadBalancerIP?: string;
        readonly loadBalancerClass?: string;
        readonly loadBalancerSourceRanges?: readonly string[];
        readonly externalTrafficPolicy?: "Cluster" | "Local";
    };
}

/** Network gateways run two pods by default: one restarting or drained leaves the other serving every remote. */
export const NETWORK_GATEWAY_REPLICAS = 2;

/** The gateway chart's and istiod chart's autoscalers stop at 5 by default; never below the minimum. */
const DEFAULT_MAX_REPLICAS = 5;

/** Helm values of user-given chart values (`istio.values`), merged over the program's, by chart. */
export type ChartValues = Readonly<Partial<Record<"base" | "istiod" | "gateway", Readonly<Record<string, unknown>>>>>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** `over` merged onto `base`, maps key by key (an Output or a list is a value, not merged into). */
export function mergeValues(base: Record<string, unknown>, over: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
    if (over === undefined) return base;
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(out[k]) && isPlainObject(v) ? mergeValues(out[k], v) : v;
    return out;
}

/** The istiod chart's sizing keys for `sizing` (nothing set: the chart's defaults). */
export function istiodSizingValues(sizing: Sizing | undefined): Record<string, unknown> {
    const r = sizing?.replicas;
    return {
        ...(r !== undefined ? { replicaCount: r, autoscaleMin: r, autoscaleMax: Math.max(DEFAULT_MAX_REPLICAS, r) } : {}),
        ...(sizing?.resources !== undefined ? { resources: sizing.resources } : {}),
    };
}

/** A cluster's identity in the mesh. */
export interface MeshMember {
    /** `global.multiCluster.clusterName`, the registry name istiod knows the cluster by. */
    readonly clusterName: string;
    /** `global.network`. */
    readonly network: string;
    /** `global.meshID`. */
    readonly meshId: string;
}

/**
 * `base` chart values: the remote profile on remotes (docs step "install base with profile=remote");
 * with revisions, `defaultRevision` points the default validating webhook at the default revision.
 */
export function baseValues(role: "primary" | "remote", defaultRevision = ""): Record<string, unknown> {
    return { ...(role === "remote" ? { profile: "remote" } : {}), ...(defaultRevision !== "" ? { defaultRevision } : {}) };
}

/** `revision` of the istiod and gateway charts, set only for a revision (the chart's default is ""). */
const revisionValue = (revision: string) => (revision !== "" ? { revision } : {});

/**
 * `istiod` values for a revision's webhooks: the control plane without revision, once the default is
 * a revision (the `default` tag), renders no `istio-sidecar-injector` of its own
 * (`global.operatorManageWebhooks`), or it and the tag would both take `istio-injection=enabled`
 * pods. istioctl's `tag set default` makes the same webhook match nothing; moving the default back
 * renders it again.
 */
export function injectorValues(revision: string, defaultRevision: string): Record<string, unknown> {
    return revision === "" && defaultRevision !== "" ? { global: { operatorManageWebhooks: true } } : {};
}

function meshGlobals(member: MeshMember, hub: string) {
    return {
        hub,
        meshID: member.meshId,
        multiCluster: { clusterName: member.clusterName },
        network: member.network,
    };
}

/**
 * `istiod` values of the primary: a control plane that also serves remotes (`externalIstiod`), with
 * access logs on stdout. https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/
 */
export function primaryIstiodValues(member: MeshMember, hub: string, revision = "", sizing?: Sizing): Record<string, unknown> {
    return {
        ...revisionValue(revision),
        global: { ...meshGlobals(member, hub), externalIstiod: true },
        meshConfig: { accessLogFile: "/dev/stdout" },
        ...istiodSizingValues(sizing),
    };
}

/** The injection path a remote's webhook calls on the primary istiod; it carries the cluster and network. */
export function injectionPath(member: Pick<MeshMember, "clusterName" | "network">): string {
    return `/inject/cluster/${member.clusterName}/net/${member.network}`;
}

/**
 * `istiod` values of a remote (the `remote` profile): no istiod runs there; its webhooks and the
 * `istiod` Service point at the primary's istiod through `remotePilotAddress`, which must be an IP
 * (a hostname makes the chart render an ExternalName Service that breaks injection).
 */
export function remoteIstiodValues(
    member: MeshMember,
    hub: string,
    remotePilotAddress: pulumi.Input<string>,
    revision = "",
): Record<string, unknown> {
    return {
        profile: "remote",
        ...revisionValue(revision),
        global: { ...meshGlobals(member, hub), configCluster: true, remotePilotAddress },
        istiodRemote: { injectionPath: injectionPath(member) },
    };
}

/**
 * `gateway` values of a network (east-west) gateway. `networkGateway` alone gives the Service ports
 * 15021/15443/15012/15017 and labels the Service and pods `topology.istio.io/network` (since 1.26);
 * setting that label again through `labels` would render it twice on the Service. With revisions,
 * `revision` labels its pods `istio.io/rev`, so the default revision injects them.
 *
 * Every remote's injection and xDS cross the primary's gateway, so it runs {@link NETWORK_GATEWAY_REPLICAS}
 * pods (the autoscaler's minimum; `replicaCount` where autoscaling is off) with a PodDisruptionBudget
 * keeping one, which the chart renders only above one replica. The Service takes the cloud's settings.
 */
export function networkGatewayValues(network: string, revision = "", settings: NetworkGatewaySettings = {}): Record<string, unknown> {
    const replicas = settings.replicas ?? NETWORK_GATEWAY_REPLICAS;
    const service = Object.fromEntries(Object.entries(settings.service ?? {}).filter(([, v]) => v !== undefined));
    return {
        name: NETWORK_GATEWAY.name,
        networkGateway: network,
        ...revisionValue(revision),
        replicaCount: replicas,
        autoscaling: { minReplicas: replicas, maxReplicas: Math.max(DEFAULT_MAX_REPLICAS, replicas) },
        ...(replicas > 1 ? { podDisruptionBudget: { minAvailable: 1 } } : {}),
        ...(settings.resources !== undefined ? { resources: settings.resources } : {}),
        ...(Object.keys(service).length > 0 ? { service } : {}),
    };
}

/**
 * The name the gateway chart gives its Service (and Deployment): the `name` value, else the release
 * name (`gateway.name` in the chart's templates/_helpers.tpl).
 */
export function gatewayServiceName(values: { readonly name?: unknown }, release: string): string {
    return typeof values.name === "string" && values.name !== "" ? values.name : release;
}

/** What the preview says when the remotes' discovery address is a load balancer's hostname resolved at `pulumi up`. */
export function hostnameDiscoveryWarning(primary: string, hostname: string): string {
    return (
        `${primary}'s network gateway has a hostname (${hostname}), not a static address: each remote's istiod Service gets the IP ` +
        "it resolves to during this `pulumi up`, and if the load balancer's IPs change, injection and xDS stop on every remote until the next one. " +
        `Give ${primary} a static gatewayAddress (an Elastic IP on an NLB, a reserved static IP on GKE or AKS; see the README's "A static address for the primary").`
    );
}

/** True for an IPv4 or IPv6 literal. */
export function isIpAddress(address: string): boolean {
    return isIP(address) !== 0;
}

/** One network gateway as mesh networks need it. */
export interface NetworkGatewayAddress {
    readonly clusterName: string;
    readonly network: string;
    /** IP or DNS name of the gateway's load balancer (or the user's fixed `gatewayAddress`). */
    readonly address: string;
}

/** The `meshNetworks` document (istio/api `mesh.v1alpha1.MeshNetworks`). */
export interface MeshNetworks {
    readonly networks: Record<
        string,
        {
            readonly endpoints: { readonly fromRegistry: string }[];
            readonly gateways: { readonly address: string; readonly port: number }[];
        }
    >;
}

/**
 * Mesh networks: each network's endpoints come from its clusters' registries and are reached through
 * its gateways on 15443 — what the page writes into the `istio` ConfigMap by hand.
 */
export function meshNetworks(gateways: readonly NetworkGatewayAddress[]): MeshNetworks {
    const networks: Record<string, { endpoints: { fromRegistry: string }[]; gateways: { address: string; port: number }[] }> = {};
    for (const g of gateways) {
        const network = (networks[g.network] ??= { endpoints: [], gateways: [] });
        network.endpoints.push({ fromRegistry: g.clusterName });
        network.gateways.push({ address: g.address, port: CROSS_NETWORK_PORT });
    }
    return { networks };
}

/**
 * The `meshNetworks` key of the `istio` ConfigMap. Written as JSON (which is YAML): istiod reads it as
 * YAML 1.1, where unquoted `no`, `on`, `y`… are booleans, and those are legal cluster and network names.
 */
export function meshNetworksConfigMapValue(gateways: readonly NetworkGatewayAddress[]): string {
    return JSON.stringify(meshNetworks(gateways), null, 2);
}

/** What a remote secret's kubeconfig needs: where the API server is and the reader's credentials. */
export interface RemoteKubeconfigInput {
    readonly clusterName: string;
    /** https URL of the remote API server as istiod reaches it. */
    readonly server: string;
    /** Base64 PEM of the API server CA (`ca.crt` of the token Secret, as stored in its `data`). */
    readonly caData: string;
    /** The reader service account's bearer token (decoded). */
    readonly token: string;
}

/**
 * The kubeconfig `istioctl create-remote-secret` writes: cluster, user and context all named after
 * the Istio cluster, authenticating with the `istio-reader-service-account` token. JSON, for the same
 * reason as the mesh networks: client-go reads it as YAML 1.1.
 */
export function remoteSecretKubeconfig(input: RemoteKubeconfigInput): string {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
        clusters: [{ name: input.clusterName, server: input.server, caData: input.caData, skipTLSVerify: false }],
        users: [{ name: input.clusterName, token: input.token }],
        contexts: [{ name: input.clusterName, cluster: input.clusterName, user: input.clusterName }],
        currentContext: input.clusterName,
    });
    return JSON.stringify(JSON.parse(kubeConfig.exportConfig()), null, 2);
}

/** `status.loadBalancer` of a Service, as far as the gateway address needs it. */
export interface LoadBalancerStatus {
    readonly ingress?: readonly { readonly ip?: string; readonly hostname?: string }[];
}

/** The first load balancer address of a Service (IP, else hostname), or undefined while it has none. */
export function loadBalancerAddress(status: LoadBalancerStatus | undefined): string | undefined {
    const ingress = status?.ingress?.find((i) => i.ip || i.hostname);
    return ingress?.ip || ingress?.hostname;
}
