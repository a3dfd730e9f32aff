import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { crossNetworkGateway } from "../lib/istio-config";
import { type NetworkGatewayAddress, meshNetworksConfigMapValue } from "../lib/istio-values";
import { revisioned } from "../lib/revisions";

export interface ClusterAwareGatewayArgs {
    /** The primary's `istio-system` namespace. */
    readonly namespace: pulumi.Input<string>;
    /** The primary's istiod release of the default revision: its webhook validates the Gateway. */
    readonly istiod: k8s.helm.v3.Release;
    /**
     * Every istiod release on the primary, by revision name ("" without revisions): each revision
     * reads its own mesh configuration (ConfigMap `istio`, `istio-<rev>`), and each gets the mesh networks.
     * @default the default revision's `istiod` alone, without revision
     */
    readonly istiods?: ReadonlyMap<string, k8s.helm.v3.Release>;
    /**
     * Every cluster's network gateway, the primary's included; each address is an Output of that gateway.
     * https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/#MeshNetworks
     */
    readonly networkGateways: readonly pulumi.Input<NetworkGatewayAddress>[];
}

/**
 * Cluster-aware service routing (split-horizon EDS), as the page sets it up on the primary:
 * - the Gateway passing `*.local` mTLS through by SNI on 15443 (`AUTO_PASSTHROUGH`), applied once on
 *   the primary, whose istiod configures the network gateways of every cluster;
 * - the primary's mesh networks, so istiod hands sidecars the gateway of another network instead of
 *   pod IPs they cannot reach. The page edits the `istio` ConfigMap by hand once the remote gateway
 *   has an address; here a server-side-apply patch of its `meshNetworks` key (of every revision's
 *   ConfigMap) waits for every gateway address. istiod reloads it without a restart.
 * The objects land on `opts.provider` (the primary).
 */
export class ClusterAwareGateway extends pulumi.ComponentResource {
    /** The mesh networks written to the primary (JSON, which istiod reads as YAML). */
    public readonly meshNetworks: pulumi.Output<string>;

    constructor(name: string, args: ClusterAwareGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("istio-multicluster:index:ClusterAwareGateway", name, {}, opts);

        new k8s.apiextensions.CustomResource(`${name}-cross-network-gateway`, crossNetworkGateway(), {
            parent: this,
            dependsOn: [args.istiod],
        });

        this.meshNetworks = pulumi.output([...args.networkGateways]).apply(meshNetworksConfigMapValue);
        const istiods = args.istiods ?? new Map([["", args.istiod]]);
        for (const [revision, istiod] of istiods) {
            new k8s.core.v1.ConfigMapPatch(
                revisioned(`${name}-mesh-networks`, revision),
                {
                    metadata: {
                        name: revisioned("istio", revision),
                        namespace: args.namespace,
                        annotations: {
                            // The chart's field manager owns `meshNetworks` (rendered empty); take it over.
                            "pulumi.com/patchForce": "true",
                            // A Helm upgrade of istiod rewrites the ConfigMap; re-apply after each (Helm) release revision.
                            "istio-multicluster/istiod-release-revision": istiod.status.revision.apply(String),
                        },
                    },
                    data: { meshNetworks: this.meshNetworks },
                },
                { parent: this },
            );
        }

        this.registerOutputs({ meshNetworks: this.meshNetworks });
    }
}
