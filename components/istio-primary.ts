import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    type IstioClusterArgs,
    type SigningClusterArgs,
    controlPlanesOf,
    declareCacerts,
    declareControlPlanes,
    declareIstioSystem,
    declareNetworkGateway,
} from "../lib/istio-cluster";
import { defaultRevisionOf } from "../lib/revisions";
import { exposeIstiodGateway, exposeIstiodVirtualService, strictPeerAuthentication } from "../lib/istio-config";
import { type Sizing, hostnameDiscoveryWarning, isIpAddress, primaryIstiodValues } from "../lib/istio-values";
import type { PrimaryReference } from "./istio-remote";
import { RemoteSecret } from "./remote-secret";

/**
 * The primary: its identity and charts ({@link IstioClusterArgs}) and the CA its istiod signs with for
 * every cluster ({@link SigningClusterArgs}).
 * https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/
 */
export interface IstioPrimaryArgs extends IstioClusterArgs, SigningClusterArgs {
    /**
     * Each istiod's replicas (the autoscaler's minimum; above one the chart adds a PodDisruptionBudget)
     * and resources.
     * @default the istiod chart's: one replica, 500m CPU and 2 GiB requested
     */
    readonly istiod?: Sizing;
}

/**
 * The primary cluster: istiod for the whole mesh (one per revision), its network gateway, each istiod
 * exposed through that gateway for the remotes (Istio's `expose-istiod` sample, `expose-istiod-rev`
 * with revisions), the `default` tag, and mesh-wide STRICT mTLS. The cluster arrives as `opts.provider`.
 */
export class IstioPrimary extends pulumi.ComponentResource {
    /** Name of the `istio-system` namespace, known once it exists (so dependents wait for it). */
    public readonly namespace: pulumi.Output<string>;
    /** The istiod release of the default revision; its ConfigMap and injection exist once it is ready. */
    public readonly istiod: k8s.helm.v3.Release;
    /** The istiod release of each revision, by revision name ("" without revisions). */
    public readonly istiods: ReadonlyMap<string, k8s.helm.v3.Release>;
    /** Address of this cluster's network gateway (IP or DNS name). */
    public readonly gatewayAddress: pulumi.Output<string>;
    /** What workloads here wait for before their pods can be injected through the `default` tag. */
    public readonly injectionReady: readonly pulumi.Resource[];
    /**
     * The same address, known only once the revision's istiod is exposed on it: what a remote's
     * `remotePilotAddress` for that revision is, so it cannot start before the primary can serve it.
     * By revision name, as {@link istiods}.
     */
    public readonly discoveryAddresses: ReadonlyMap<string, pulumi.Output<string>>;
    /** The default revision's discovery address (the only one without revisions). */
    public readonly discoveryAddress: pulumi.Output<string>;
    /** Its names, its cluster's provider, and what its reader token waits for: the account (`base`) and its permissions (istiod). */
    private readonly cluster: {
        readonly name: string;
        readonly clusterName: string;
        readonly provider?: pulumi.ProviderResource;
        readonly readerReady: readonly pulumi.Resource[];
    };

    constructor(name: string, args: IstioPrimaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("istio-multicluster:index:IstioPrimary", name, {}, opts);

        const planes = controlPlanesOf(args);
        const system = declareIstioSystem(name, { ...args, controlPlanes: planes, role: "primary" }, this);
        this.namespace = system.namespace.metadata.name;
        const cacerts = declareCacerts(name, this.namespace, args, this);

        const { istiods, istiod, tag } = declareControlPlanes(
            name,
            {
                source: args.source,
                controlPlanes: planes,
                namespace: this.namespace,
                values: (r) => primaryIstiodValues(args, args.source.hub, r.name, args.istiod),
                chartValues: args.chartValues,
            },
            // istiod reads `cacerts` once at start: without it, it would mint a self-signed root of its own.
            { parent: this, dependsOn: [cacerts, system.base] },
        );
        this.istiods = istiods;
        this.istiod = istiod;
        this.injectionReady = tag ? [this.istiod, tag] : [this.istiod];
        this.cluster = { name, clusterName: args.clusterName, provider: opts?.provider, readerReady: [system.base, ...istiods.values()] };

        const gateway = declareNetworkGateway(
            name,
            { ...args, namespace: this.namespace, controlPlanes: planes },
            { parent: this, dependsOn: [this.istiod] },
        );
        this.gatewayAddress = gateway.address;
        if (args.gatewayAddress === undefined) {
            // Remotes need an IP (lib/resolve-address.ts): a hostname is resolved once per `pulumi up`, and
            // when the load balancer's addresses change, every remote's injection and xDS stop until the next.
            this.gatewayAddress.apply((address) => {
                if (!isIpAddress(address)) void pulumi.log.warn(hostnameDiscoveryWarning(name, address), this);
            });
        }

        // Istio objects wait for the default revision's istiod, whose webhook validates them.
        const afterIstiod = { parent: this, dependsOn: [this.istiod] };
        const istiodGateway = new k8s.apiextensions.CustomResource(`${name}-istiod-gateway`, exposeIstiodGateway(), afterIstiod);
        this.discoveryAddresses = new Map(
            [...this.istiods].map(([revision, istiod]) => {
                const body = exposeIstiodVirtualService(revision);
                const vs = new k8s.apiextensions.CustomResource(`${name}-${body.metadata.name}`, body, { parent: this, dependsOn: [this.istiod, istiod] });
                return [revision, pulumi.all([this.gatewayAddress, istiodGateway.urn, vs.urn]).apply(([address]) => address)];
            }),
        );
        this.discoveryAddress = this.discoveryAddresses.get(defaultRevisionOf(planes).name) as pulumi.Output<string>;
        new k8s.apiextensions.CustomResource(`${name}-peer-authentication`, strictPeerAuthentication(), afterIstiod);

        this.registerOutputs({ namespace: this.namespace, gatewayAddress: this.gatewayAddress });
    }

    /** What pods pinned to `revision` (`istio.io/rev`) wait for; undefined: the `default` tag. */
    injectionReadyFor(revision: string | undefined): readonly pulumi.Resource[] {
        return revision === undefined ? this.injectionReady : [this.istiods.get(revision) as k8s.helm.v3.Release];
    }

    /** This primary, as its remotes and the other primaries refer to it. */
    reference(): PrimaryReference {
        const { clusterName, provider } = this.cluster;
        if (provider === undefined) throw new Error(`${clusterName}: IstioPrimary needs its cluster as opts.provider`);
        return { clusterName, provider, namespace: this.namespace, discoveryAddresses: this.discoveryAddresses };
    }

    /**
     * Multi-primary: the other primaries watch this one, as this one watches its remotes — a reader
     * token here and a remote secret in each watcher's istiod namespace ({@link RemoteSecret}), so that
     * every istiod knows this cluster's endpoints. Named `${name}-remote-secret`.
     */
    watchedBy(args: {
        /** The https URL the other istiods reach this cluster's API server at. */
        readonly apiServer: string;
        /** The other primaries. */
        readonly watchers: readonly PrimaryReference[];
        /** Changing it rotates this cluster's reader token, in every watcher's secret before the old one goes. */
        readonly tokenRotation?: string;
        /** Protect the secrets and the token from deletion. */
        readonly protect?: boolean;
    }): RemoteSecret {
        const own = this.reference();
        return new RemoteSecret(
            `${this.cluster.name}-remote-secret`,
            {
                clusterName: own.clusterName,
                apiServer: args.apiServer,
                remoteProvider: own.provider,
                remoteNamespace: this.namespace,
                readerReady: this.cluster.readerReady,
                tokenRotation: args.tokenRotation,
                watchers: args.watchers,
            },
            { parent: this, provider: own.provider, protect: args.protect },
        );
    }
}
