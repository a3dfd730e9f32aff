import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    type IstioClusterArgs,
    controlPlanesOf,
    declareControlPlanes,
    declareIstioSystem,
    declareNetworkGateway,
} from "../lib/istio-cluster";
import { injectionPath, remoteIstiodValues } from "../lib/istio-values";
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
    /**
     * The address each revision's istiod is exposed on through the primary's network gateway, by
     * revision name ("" without revisions); the remote installs the same revisions.
     */
    readonly discoveryAddresses: ReadonlyMap<string, pulumi.Input<string>>;
}

/**
 * A remote: its identity and charts ({@link IstioClusterArgs}), and how it reaches the primary. No CA:
 * the primary's istiod signs its workloads and writes the root into its namespaces.
 */
export interface IstioRemoteArgs extends IstioClusterArgs {
    /** The https URL the primary's istiod uses to reach this cluster's API server. */
    readonly apiServer: string;
    /** The primary this remote is attached to. */
    readonly primary: PrimaryReference;
    /**
     * The other primaries of a multi-primary mesh: each watches this remote too (its own copy of the
     * remote secret), so that every istiod knows every endpoint; none injects or configures it.
     * @default none
     */
    readonly otherPrimaries?: readonly PrimaryReference[];
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
 * A remote cluster: no istiod of its own; per revision, its injection webhook and `istiod(-<rev>)`
 * Service point at that revision's istiod on the primary through the primary's network gateway, and
 * the `default` tag at the default revision's. It is attached to the primary by a
 * {@link RemoteSecret}, and has its own network gateway, installed once the primary can see it.
 * The cluster arrives as `opts.provider`.
 */
export class IstioRemote extends pulumi.ComponentResource {
    /** Address of this remote's network gateway (IP or DNS name). */
    public readonly gatewayAddress: pulumi.Output<string>;
    /** The remote secret on the primary. */
    public readonly remoteSecret: RemoteSecret;
    /** The remote's istiod release of the default revision (webhooks and `istiod(-<rev>)` Service). */
    public readonly istiod: k8s.helm.v3.Release;
    /** The remote's istiod release of each revision, by revision name ("" without revisions). */
    public readonly istiods: ReadonlyMap<string, k8s.helm.v3.Release>;
    /**
     * What workloads here wait for before their pods can be injected: the webhooks, and the primary
     * knowing this cluster (istiod then patches the webhooks' CA bundle and trusts its tokens).
     */
    public readonly injectionReady: readonly pulumi.Resource[];

    /** What pods pinned to `revision` (`istio.io/rev`) wait for; undefined: the `default` tag. */
    injectionReadyFor(revision: string | undefined): readonly pulumi.Resource[] {
        return revision === undefined ? this.injectionReady : [this.istiods.get(revision) as k8s.helm.v3.Release, this.remoteSecret];
    }

    constructor(name: string, args: IstioRemoteArgs, opts: pulumi.ComponentResourceOptions & { provider: pulumi.ProviderResource }) {
        super("istio-multicluster:index:IstioRemote", name, {}, opts);

        const planes = controlPlanesOf(args);
        const system = declareIstioSystem(
            name,
            { ...args, controlPlanes: planes, role: "remote", controlPlaneCluster: args.primary.clusterName },
            this,
        );
        const namespace = system.namespace.metadata.name;

        const resolve = args.resolveAddress ?? resolveWithSystemDns;
        const { istiods, istiod, tag } = declareControlPlanes(
            name,
            {
                source: args.source,
                controlPlanes: planes,
                namespace,
                values: (r) => {
                    const discovery = args.primary.discoveryAddresses.get(r.name);
                    if (discovery === undefined) throw new Error(`the primary has no revision "${r.name}" for ${name}`);
                    const pilotAddress = pulumi.output(discovery).apply((a) => remotePilotAddress(a, resolve));
                    return remoteIstiodValues(args, args.source.hub, pilotAddress, r.name);
                },
                chartValues: args.chartValues,
                injectionPath: injectionPath(args),
            },
            { parent: this, dependsOn: [system.base] },
        );
        this.istiods = istiods;
        this.istiod = istiod;

        this.remoteSecret = new RemoteSecret(
            `${name}-remote-secret`,
            {
                clusterName: args.clusterName,
                apiServer: args.apiServer,
                remoteProvider: opts.provider,
                remoteNamespace: namespace,
                readerReady: [system.base, ...this.istiods.values()],
                tokenRotation: args.tokenRotation,
                watchers: [{ ...args.primary, own: true }, ...(args.otherPrimaries ?? [])],
            },
            { parent: this, provider: args.primary.provider, protect: args.protectRemoteSecret },
        );

        this.injectionReady = [this.istiod, ...(tag ? [tag] : []), this.remoteSecret];

        // The gateway's pods need injection and certificates from the primary's istiod.
        const gateway = declareNetworkGateway(
            name,
            { ...args, namespace, controlPlanes: planes },
            { parent: this, dependsOn: [this.istiod, this.remoteSecret] },
        );
        this.gatewayAddress = gateway.address;

        this.registerOutputs({ gatewayAddress: this.gatewayAddress, remoteSecretName: this.remoteSecret.secretName });
    }
}
