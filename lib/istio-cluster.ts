/**
 * What every cluster of the mesh gets, primary or remote: its `istio-system` namespace labelled with
 * its network, the `base` chart, and a network (east-west) gateway whose address becomes an Output;
 * and what only a cluster running istiod gets: the `cacerts` Secret. The components call these with `parent: this`, so resources inherit the
 * component's cluster provider and are named `${name}-<role>`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type CaCerts, cacertsSecretData } from "./cacerts";
import type { IstioChart } from "./chart-keys";
import { findLocalChart, isLocalChartRepository, localChartDirectory } from "./charts";
import {
    type ControlPlanes,
    DEFAULT_TAG,
    type Revision,
    baseVersionOf,
    defaultRevisionOf,
    defaultIsTagged,
    defaultTagWebhook,
    revisioned,
    singleControlPlane,
} from "./revisions";
import {
    type ChartValues,
    type IstioChartSource,
    type NetworkGatewaySettings,
    ISTIO_SYSTEM,
    NETWORK_GATEWAY,
    baseValues,
    gatewayServiceName,
    injectorValues,
    loadBalancerAddress,
    mergeValues,
    networkGatewayValues,
} from "./istio-values";

/**
 * What IstioPrimary and IstioRemote both take: a cluster's identity in the mesh, its charts, its CA.
 * https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/
 */
export interface IstioClusterArgs {
    /** Istio cluster name (`global.multiCluster.clusterName`); mesh networks and remote secrets refer to it. */
    readonly clusterName: string;
    /** Istio network of this cluster (`global.network`, the `topology.istio.io/network` label). */
    readonly network: string;
    /** `global.meshID`, the same in every cluster. */
    readonly meshId: string;
    /** Istio version, chart repository and image hub. */
    readonly source: IstioChartSource;
    /**
     * The control planes by revision and the one behind the `default` tag (each revision's charts at
     * its own version, from `source`'s repository).
     * @default one control plane without revision, at `source.version`
     */
    readonly controlPlanes?: ControlPlanes;
    /**
     * A fixed address of the cluster's network gateway, used instead of its load balancer's.
     * @default the first `status.loadBalancer.ingress` address of the gateway Service
     */
    readonly gatewayAddress?: string;
    /**
     * The network gateway's pods and Service (replicas, resources, the cloud's load balancer settings).
     * @default two pods and a PodDisruptionBudget keeping one; the chart's Service
     */
    readonly gateway?: NetworkGatewaySettings;
    /**
     * Other Helm values of Istio's charts, by chart, merged over the program's last (validated against
     * the charts' values in the stack config).
     */
    readonly chartValues?: ChartValues;
}

/**
 * Where Helm finds one of Istio's charts: an https repository or an OCI registry at `source.version`,
 * or a local directory, whose chart is the version (no `version`: Helm ignores it for a path).
 */
export function chartLocation(source: IstioChartSource, chart: IstioChart): { chart: string; version?: string; repositoryOpts?: { repo: string } } {
    if (isLocalChartRepository(source.chartRepository)) {
        const directory = localChartDirectory(source.chartRepository);
        const found = findLocalChart(directory, chart, source.version);
        // The config check found every chart before anything was declared.
        if (found === undefined) throw new Error(`istio.chartRepository: ${directory} has no ${chart} chart`);
        return { chart: found };
    }
    return source.chartRepository.startsWith("oci://")
        ? { chart: `${source.chartRepository.replace(/\/$/, "")}/${chart}`, version: source.version }
        : { chart, version: source.version, repositoryOpts: { repo: source.chartRepository } };
}

/** The control planes of a cluster: as given, else one without revision at `source.version`. */
export function controlPlanesOf(args: Pick<IstioClusterArgs, "source" | "controlPlanes">): ControlPlanes {
    return args.controlPlanes ?? singleControlPlane(args.source.version);
}

/** `source` at another version: where a revision's charts come from. */
export function atVersion(source: IstioChartSource, version: string): IstioChartSource {
    return { ...source, version };
}

/**
 * The istiod release of each revision, named as Istio's Helm guide names them (`istiod`, `istiod-<rev>`)
 * and as our resources are (`${name}-istiod`, `${name}-istiod-<rev>`), with the revision's values, and
 * the `default` tag ({@link declareDefaultTag}). Declared in the order a move of the default needs:
 * the default revision's istiod, the tag once it serves, then the others; the control plane without
 * revision after the tag, since its own webhooks go when the tag takes over (no moment without an
 * injector).
 */
export function declareControlPlanes(
    name: string,
    args: {
        readonly source: IstioChartSource;
        readonly controlPlanes: ControlPlanes;
        readonly namespace: pulumi.Input<string>;
        readonly values: (revision: Revision) => Record<string, unknown>;
        readonly chartValues?: ChartValues;
        /** The tag's injection path on a remote (`/inject/cluster/<name>/net/<network>`); the chart's on the primary. */
        readonly injectionPath?: string;
    },
    opts: { readonly parent: pulumi.Resource; readonly dependsOn: pulumi.Input<pulumi.Resource>[] },
): {
    readonly istiods: ReadonlyMap<string, k8s.helm.v3.Release>;
    readonly istiod: k8s.helm.v3.Release;
    readonly tag?: k8s.admissionregistration.v1.MutatingWebhookConfiguration;
} {
    const planes = args.controlPlanes;
    const byDefault = defaultRevisionOf(planes);
    const release = (r: Revision, after: pulumi.Resource[]) =>
        istioRelease(
            revisioned(`${name}-istiod`, r.name),
            {
                release: revisioned("istiod", r.name),
                chart: "istiod",
                source: atVersion(args.source, r.version),
                namespace: args.namespace,
                values: mergeValues(mergeValues(args.values(r), injectorValues(r.name, byDefault.name)), args.chartValues?.istiod),
            },
            { parent: opts.parent, dependsOn: [...opts.dependsOn, ...after] },
        );
    const istiod = release(byDefault, []);
    const tag = declareDefaultTag(name, planes, args.injectionPath, { parent: opts.parent, dependsOn: [istiod] });
    const others = new Map(planes.revisions.filter((r) => r !== byDefault).map((r) => [r.name, release(r, r.name === "" && tag ? [tag] : [])]));
    const istiods = new Map(planes.revisions.map((r) => [r.name, r === byDefault ? istiod : (others.get(r.name) as k8s.helm.v3.Release)]));
    return { istiods, istiod, tag };
}

/**
 * One of Istio's charts as a Helm release. `helm.v3.Release` installs with Helm's own wait (Deployments
 * ready, LoadBalancer addresses assigned), takes values holding Outputs, and previews cleanly while they
 * are unknown — see the README's "Why helm.v3.Release".
 */
export function istioRelease(
    name: string,
    args: {
        readonly release: string;
        readonly chart: IstioChart;
        readonly source: IstioChartSource;
        readonly namespace: pulumi.Input<string>;
        readonly values: Record<string, unknown>;
    },
    opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(
        name,
        {
            name: args.release,
            ...chartLocation(args.source, args.chart),
            namespace: args.namespace,
            values: args.values,
            // Load balancers and cross-cluster injection can take longer than Helm's 5 minutes.
            timeout: 600,
        },
        opts,
    );
}

/** What only a cluster running istiod takes: the CA it signs workload certificates with. */
export interface SigningClusterArgs {
    /** The cluster's `cacerts` (intermediate CA under the shared root). */
    readonly caCerts: CaCerts;
    /**
     * Protect the `cacerts` Secret from deletion (`pulumi destroy` then stops at it).
     * @default false
     */
    readonly protectCaCerts?: boolean;
}

export interface IstioSystemArgs extends Pick<IstioClusterArgs, "network" | "source" | "chartValues"> {
    readonly controlPlanes: ControlPlanes;
    readonly role: "primary" | "remote";
    /** Set on remotes: the primary cluster whose istiod manages this one. */
    readonly controlPlaneCluster?: string;
}

/**
 * `istio-system` with its network label and the `base` chart (at the newest revision's version, its
 * default validator on the default revision).
 */
export function declareIstioSystem(name: string, args: IstioSystemArgs, parent: pulumi.Resource) {
    const namespace = new k8s.core.v1.Namespace(
        `${name}-istio-system`,
        {
            metadata: {
                name: ISTIO_SYSTEM,
                labels: { "topology.istio.io/network": args.network },
                annotations: args.controlPlaneCluster
                    ? { "topology.istio.io/controlPlaneClusters": args.controlPlaneCluster }
                    : undefined,
            },
        },
        { parent },
    );
    const base = istioRelease(
        `${name}-base`,
        {
            release: "istio-base",
            chart: "base",
            source: atVersion(args.source, baseVersionOf(args.controlPlanes)),
            namespace: namespace.metadata.name,
            values: mergeValues(baseValues(args.role, args.controlPlanes.defaultRevision), args.chartValues?.base),
        },
        { parent },
    );
    return { namespace, base };
}

/**
 * The `cacerts` Secret istiod signs workload certificates with, on a cluster that runs istiod only: a
 * remote's workloads are signed by its primary's istiod, which also writes the root into the remote's
 * namespaces (`istio-ca-root-cert`), so a remote holds no CA key. istiod must wait for it.
 */
export function declareCacerts(name: string, namespace: pulumi.Input<string>, args: SigningClusterArgs, parent: pulumi.Resource): k8s.core.v1.Secret {
    return new k8s.core.v1.Secret(
        `${name}-cacerts`,
        { metadata: { name: "cacerts", namespace }, type: "Opaque", stringData: cacertsSecretData(args.caCerts) },
        { parent, protect: args.protectCaCerts },
    );
}

/**
 * The network (east-west) gateway and its address: the user's fixed `gatewayAddress`, else the first
 * load balancer address of the chart's Service, read once the release (which waits for it) is installed.
 * It follows the default revision (chart version and `revision`): moving the default upgrades it in
 * place, the Service and its address stay.
 */
export function declareNetworkGateway(
    name: string,
    args: {
        readonly network: string;
        readonly namespace: pulumi.Input<string>;
        readonly source: IstioChartSource;
        readonly controlPlanes: ControlPlanes;
        readonly gatewayAddress?: string;
        readonly gateway?: NetworkGatewaySettings;
        readonly chartValues?: ChartValues;
    },
    opts: { readonly parent: pulumi.Resource; readonly dependsOn: pulumi.Input<pulumi.Resource>[] },
) {
    const values = mergeValues(networkGatewayValues(args.network, args.controlPlanes.defaultRevision, args.gateway), args.chartValues?.gateway);
    const release = istioRelease(
        `${name}-network-gateway`,
        {
            release: NETWORK_GATEWAY.name,
            chart: "gateway",
            source: atVersion(args.source, defaultRevisionOf(args.controlPlanes).version),
            namespace: args.namespace,
            values,
        },
        { parent: opts.parent, dependsOn: opts.dependsOn },
    );
    // The Service by the name the chart gives it, not by the release's name.
    const serviceName = gatewayServiceName(values, NETWORK_GATEWAY.name);
    // Read once the release is installed: from its `id`, which is unknown only while the release is
    // to be created (its `status` is unknown in the preview of every upgrade too, and would make the
    // address — and the mesh networks and remotes using it — look changed when moving the default).
    const installed = <T>(value: pulumi.Input<T>) => pulumi.all([release.id, value]).apply(([, v]) => v);
    const fixed = args.gatewayAddress;
    const address =
        fixed !== undefined
            ? installed(fixed)
            : k8s.core.v1.Service.get(`${name}-network-gateway-service`, installed(pulumi.interpolate`${args.namespace}/${serviceName}`), {
                  parent: opts.parent,
                  dependsOn: [release],
              }).status.apply((status) => {
                  const found = loadBalancerAddress(status?.loadBalancer);
                  if (found === undefined) {
                      throw new Error(
                          `the network gateway Service ${serviceName} of ${name} has no load balancer address; ` +
                              "give the cluster a gatewayAddress or a load balancer implementation",
                      );
                  }
                  return found;
              });
    return { release, address };
}

/**
 * The `default` tag ({@link defaultTagWebhook}), declared only when the default is a revision: while
 * it is the control plane without revision, that istiod's own webhook is the default.
 */
function declareDefaultTag(
    name: string,
    controlPlanes: ControlPlanes,
    injectionPath: string | undefined,
    opts: { readonly parent: pulumi.Resource; readonly dependsOn: pulumi.Input<pulumi.Resource>[] },
): k8s.admissionregistration.v1.MutatingWebhookConfiguration | undefined {
    if (!defaultIsTagged(controlPlanes)) return undefined;
    return new k8s.admissionregistration.v1.MutatingWebhookConfiguration(
        `${name}-revision-tag-${DEFAULT_TAG}`,
        defaultTagWebhook(controlPlanes.defaultRevision, injectionPath),
        opts,
    );
}
