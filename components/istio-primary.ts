import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type IstioClusterArgs, declareIstioSystem, declareNetworkGateway, istioRelease } from "../lib/istio-cluster";
import { exposeIstiodGateway, exposeIstiodVirtualService, strictPeerAuthentication } from "../lib/istio-config";
import { primaryIstiodValues } from "../lib/istio-values";

/**
 * The primary: its identity, charts and CA ({@link IstioClusterArgs}); istiod here serves every cluster.
 * https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/
 */
export type IstioPrimaryArgs = IstioClusterArgs;

/**
 * The primary cluster: istiod for the whole mesh, its network gateway, istiod exposed through that
 * gateway for the remotes (Istio's `expose-istiod` sample) and mesh-wide STRICT mTLS.
 * The cluster arrives as `opts.provider`.
 */
export class IstioPrimary extends pulumi.ComponentResource {
    /** Name of the `istio-system` namespace, known once it exists (so dependents wait for it). */
    public readonly namespace: pulumi.Output<string>;
    /** The istiod release; the ConfigMap `istio` and injection exist once it is ready. */
    public readonly istiod: k8s.helm.v3.Release;
    /** Address of this cluster's network gateway (IP or DNS name). */
    public readonly gatewayAddress: pulumi.Output<string>;
    /** What workloads here wait for before their pods can be injected. */
    public readonly injectionReady: readonly pulumi.Resource[];
    /**
     * The same address, known only once istiod is exposed on it: what remotes use as
     * `remotePilotAddress`, so they cannot start before the primary can serve them.
     */
    public readonly discoveryAddress: pulumi.Output<string>;

    constructor(name: string, args: IstioPrimaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("istio-multicluster:index:IstioPrimary", name, {}, opts);

        const system = declareIstioSystem(
            name,
            { ...args, role: "primary" },
            this,
        );
        this.namespace = system.namespace.metadata.name;

        this.istiod = istioRelease(
            `${name}-istiod`,
            {
                release: "istiod",
                chart: "istiod",
                source: args.source,
                namespace: this.namespace,
                values: primaryIstiodValues(args, args.source.hub),
            },
            // istiod reads `cacerts` once at start: without it, it would mint a self-signed root of its own.
            { parent: this, dependsOn: [system.cacerts, system.base] },
        );

        this.injectionReady = [this.istiod];

        const gateway = declareNetworkGateway(
            name,
            { network: args.network, namespace: this.namespace, source: args.source, gatewayAddress: args.gatewayAddress },
            { parent: this, dependsOn: [this.istiod] },
        );
        this.gatewayAddress = gateway.address;

        const afterIstiod = { parent: this, dependsOn: [this.istiod] };
        const exposed = [exposeIstiodGateway(), exposeIstiodVirtualService()].map(
            (body) => new k8s.apiextensions.CustomResource(`${name}-${body.metadata.name}`, body, afterIstiod),
        );
        new k8s.apiextensions.CustomResource(`${name}-peer-authentication`, strictPeerAuthentication(), afterIstiod);

        this.discoveryAddress = pulumi
            .all([this.gatewayAddress, ...exposed.map((r) => r.urn)])
            .apply(([address]) => address);

        this.registerOutputs({ namespace: this.namespace, gatewayAddress: this.gatewayAddress });
    }
}
