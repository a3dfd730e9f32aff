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
export function primaryIstiodValues(member: MeshMember, hub: string, revision = ""): Record<string, unknown> {
    return {
        ...revisionValue(revision),
        global: { ...meshGlobals(member, hub), externalIstiod: true },
        meshConfig: { accessLogFile: "/dev/stdout" },
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
 */
export function networkGatewayValues(network: string, revision = ""): Record<string, unknown> {
    return { name: NETWORK_GATEWAY.name, networkGateway: network, ...revisionValue(revision) };
}

/**
 * The name the gateway chart gives its Service (and Deployment): the `name` value, else the release
 * name (`gateway.name` in the chart's templates/_helpers.tpl).
 */
export function gatewayServiceName(values: { readonly name?: unknown }, release: string): string {
    return typeof values.name === "string" && values.name !== "" ? values.name : release;
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
