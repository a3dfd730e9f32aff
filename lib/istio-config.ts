/**
 * Pure builders of the Istio configuration objects the mesh declares, shaped as Istio's own
 * multicluster samples have them (`samples/multicluster/expose-istiod.yaml`, `expose-services.yaml`).
 */
import type { IGateway, IVirtualService } from "@kubernetes-models/istio/networking.istio.io/v1";
import type { IPeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1";
import { CROSS_NETWORK_PORT, ISTIO_SYSTEM, NETWORK_GATEWAY } from "./istio-values";
import { revisioned } from "./revisions";

/**
 * An Istio object as its published schema types it (kubernetes-models), so a misspelt field or a
 * wrong type fails type-checking; named, as a `k8s.apiextensions.CustomResource` needs it.
 */
export type IstioObject<T> = T & { readonly metadata: { readonly name: string; readonly namespace: string } };

/** Ports of istiod that remotes reach through the primary's network gateway: xDS/CA and the webhooks. */
const ISTIOD_PORTS = [
    { gatewayPort: 15012, name: "tls-istiod", istiodPort: 15012 },
    { gatewayPort: 15017, name: "tls-istiodwebhook", istiodPort: 443 },
] as const;

/** Gateway `istiod-gateway`: TLS passthrough of 15012 and 15017 on the primary's network gateway. */
export function exposeIstiodGateway(): IstioObject<IGateway> {
    return {
        apiVersion: "networking.istio.io/v1",
        kind: "Gateway",
        metadata: { name: "istiod-gateway", namespace: ISTIO_SYSTEM },
        spec: {
            selector: { ...NETWORK_GATEWAY.selector },
            servers: ISTIOD_PORTS.map((p) => ({
                port: { name: p.name, number: p.gatewayPort, protocol: "tls" },
                tls: { mode: "PASSTHROUGH" },
                hosts: ["*"],
            })),
        },
    };
}

/**
 * VirtualService `istiod-vs`: routes the passed-through TLS of those ports to istiod. With revisions,
 * `istiod-vs-<rev>` routes each revision's own SNI (`istiod-<rev>.istio-system.svc`, what the remote's
 * webhooks and proxies dial) to that revision, as Istio's `expose-istiod-rev` sample does.
 */
export function exposeIstiodVirtualService(revision = ""): IstioObject<IVirtualService> {
    const service = revisioned("istiod", revision);
    const host = `${service}.${ISTIO_SYSTEM}.svc.cluster.local`;
    const sniHosts = revision === "" ? ["*"] : [`${service}.${ISTIO_SYSTEM}.svc`, host];
    return {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: revisioned("istiod-vs", revision), namespace: ISTIO_SYSTEM },
        spec: {
            hosts: ["*"],
            gateways: ["istiod-gateway"],
            tls: ISTIOD_PORTS.map((p) => ({
                match: [{ port: p.gatewayPort, sniHosts }],
                route: [{ destination: { host, port: { number: p.istiodPort } } }],
            })),
        },
    };
}

/**
 * Gateway `cross-network-gateway` (the page's `cluster-aware-gateway`): port 15443 passes mTLS
 * through by SNI to `*.local` services, so sidecars in other networks reach this network's pods.
 */
export function crossNetworkGateway(): IstioObject<IGateway> {
    return {
        apiVersion: "networking.istio.io/v1",
        kind: "Gateway",
        metadata: { name: "cross-network-gateway", namespace: ISTIO_SYSTEM },
        spec: {
            selector: { ...NETWORK_GATEWAY.selector },
            servers: [
                {
                    port: { number: CROSS_NETWORK_PORT, name: "tls", protocol: "TLS" },
                    tls: { mode: "AUTO_PASSTHROUGH" },
                    hosts: ["*.local"],
                },
            ],
        },
    };
}

/** Mesh-wide PeerAuthentication `default` in the root namespace: mTLS required everywhere. */
export function strictPeerAuthentication(): IstioObject<IPeerAuthentication> {
    return {
        apiVersion: "security.istio.io/v1",
        kind: "PeerAuthentication",
        metadata: { name: "default", namespace: ISTIO_SYSTEM },
        spec: { mtls: { mode: "STRICT" } },
    };
}
