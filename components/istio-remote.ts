import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type IstioClusterArgs, declareIstioSystem, declareNetworkGateway, istioRelease } from "../lib/istio-cluster";
import { remoteIstiodValues } from "../lib/istio-values";
import { type ResolveAddress, remotePilotAddress, resolveWithSystemDns } from "../lib/resolve-address";
import { RemoteSecret } from "./remote-secret";

/** The primary cluster, as a remote needs it. */
export interface PrimaryReference {
    /** Istio cluster name of the primary (`topology.istio.io/controlPlaneClusters`). */
    readonly clusterName: string;
    /** Provider of the primary cluster, where this remote's secret is stored. */
    readonly provider: pulumi.ProviderResource;
    /** The primary's `istio-system` namespace. */
    readonly namespace: pulumi.Input<string>;
    /** The address istiod is exposed on through the primary's network gateway. */
    readonly discoveryAddress: pulumi.Input<string>;
}

/** A remote: its identity, charts and CA ({@link IstioClusterArgs}), and how it reaches the primary. */
export interface IstioRemoteArgs extends IstioClusterArgs {
    /** The https URL the primary's istiod uses to reach this cluster's API server. */
    readonly apiServer: string;
    /** The primary this remote is attached to. */
    readonly primary: PrimaryReference;
    /**
     * Protect the remote secret on the primary from deletion.
     * @default false
     */
    readonly protectRemoteSecret?: boolean;
    /** Changing it rotates the reader token of the remote secret, with no window without a valid token. */
    readonly tokenRotation?: string;
    /**
     * Resolves a hostname gateway address of the primary to IPv4 addresses for `remotePilotAddress`
     * (retried for up to 5 minutes; the lowest address is taken).
     * @default {@link resolveWithSystemDns}
     */
    readonly resolveAddress?: ResolveAddress;
}

/**
 * A remote cluster: no istiod of its own; its injection webhook and `istiod` Service point at the
 * primary's istiod through the primary's network gateway. It is attached to the primary by a
 * {@link RemoteSecret}, and has its own network gateway, installed once the primary can see it.
 * The cluster arrives as `opts.provider`.
 */
export class IstioRemote extends pulumi.ComponentResource {
    /** Address of this remote's network gateway (IP or DNS name). */
    public readonly gatewayAddress: pulumi.Output<string>;
    /** The remote secret on the primary. */
    public readonly remoteSecret: RemoteSecret;
    /** The remote's istiod release (webhooks and `istiod` Service). */
    public readonly istiod: k8s.helm.v3.Release;
    /**
     * What workloads here wait for before their pods can be injected: the webhooks, and the primary
     * knowing this cluster (istiod then patches the webhooks' CA bundle and trusts its tokens).
     */
    public readonly injectionReady: readonly pulumi.Resource[];

    constructor(name: string, args: IstioRemoteArgs, opts: pulumi.ComponentResourceOptions & { provider: pulumi.ProviderResource }) {
        super("istio-multicluster:index:IstioRemote", name, {}, opts);

        const system = declareIstioSystem(
            name,
            { ...args, role: "remote", controlPlaneCluster: args.primary.clusterName },
            this,
        );
        const namespace = system.namespace.metadata.name;

        const resolve = args.resolveAddress ?? resolveWithSystemDns;
        const pilotAddress = pulumi.output(args.primary.discoveryAddress).apply((a) => remotePilotAddress(a, resolve));
        this.istiod = istioRelease(
            `${name}-istiod`,
            {
                release: "istiod",
                chart: "istiod",
                source: args.source,
                namespace,
                values: remoteIstiodValues(args, args.source.hub, pilotAddress),
            },
            { parent: this, dependsOn: [system.cacerts, system.base] },
        );

        this.remoteSecret = new RemoteSecret(
            `${name}-remote-secret`,
            {
                clusterName: args.clusterName,
                apiServer: args.apiServer,
                remoteProvider: opts.provider,
                remoteNamespace: namespace,
                readerReady: [system.base, this.istiod],
                tokenRotation: args.tokenRotation,
                namespace: args.primary.namespace,
            },
            { parent: this, provider: args.primary.provider, protect: args.protectRemoteSecret },
        );

        this.injectionReady = [this.istiod, this.remoteSecret];

        // The gateway's pods need injection and certificates from the primary's istiod.
        const gateway = declareNetworkGateway(
            name,
            { network: args.network, namespace, source: args.source, gatewayAddress: args.gatewayAddress },
            { parent: this, dependsOn: [...this.injectionReady] },
        );
        this.gatewayAddress = gateway.address;

        this.registerOutputs({ gatewayAddress: this.gatewayAddress, remoteSecretName: this.remoteSecret.secretName });
    }
}
