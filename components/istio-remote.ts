import { promises as dns } from "node:dns";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type IstioClusterArgs, declareIstioSystem, declareNetworkGateway, istioRelease } from "../lib/istio-cluster";
import { isIpAddress, remoteIstiodValues } from "../lib/istio-values";
import { RemoteSecret } from "./remote-secret";

/** Turns a DNS name into one IP address. */
export type ResolveAddress = (hostname: string) => Promise<string>;

/** Resolves through the operating system, as the machine running `pulumi up` sees the name. */
export const resolveWithSystemDns: ResolveAddress = async (hostname) => (await dns.lookup(hostname)).address;

/**
 * The address a remote's istiod chart gets as `remotePilotAddress`. The chart turns a hostname into an
 * ExternalName Service, which the API server cannot call for sidecar injection; so a hostname load
 * balancer (AWS ELB) is resolved to an IP here, at every `pulumi up`.
 */
export async function remotePilotAddress(address: string, resolve: ResolveAddress): Promise<string> {
    if (isIpAddress(address)) return address;
    const ip = await resolve(address);
    if (!isIpAddress(ip)) throw new Error(`the primary's gateway address ${address} resolved to "${ip}", not an IP address`);
    return ip;
}

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
    /**
     * Resolves a hostname gateway address of the primary to an IP for `remotePilotAddress`.
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
                serviceAccountOwner: system.base,
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
