/**
 * What every cluster of the mesh gets, primary or remote: its `istio-system` namespace labelled with
 * its network, the `cacerts` Secret, the `base` chart, and a network (east-west) gateway whose address
 * becomes an Output. The components call these with `parent: this`, so resources inherit the
 * component's cluster provider and are named `${name}-<role>`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type CaCerts, cacertsSecretData } from "./cacerts";
import type { IstioChart } from "./chart-keys";
import { findLocalChart, isLocalChartRepository, localChartDirectory } from "./charts";
import {
    type IstioChartSource,
    ISTIO_SYSTEM,
    NETWORK_GATEWAY,
    baseValues,
    loadBalancerAddress,
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
    /** The cluster's `cacerts` (intermediate CA under the shared root). */
    readonly caCerts: CaCerts;
    /**
     * Protect the `cacerts` Secret from deletion (`pulumi destroy` then stops at it).
     * @default false
     */
    readonly protectCaCerts?: boolean;
    /**
     * A fixed address of the cluster's network gateway, used instead of its load balancer's.
     * @default the first `status.loadBalancer.ingress` address of the gateway Service
     */
    readonly gatewayAddress?: string;
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
        readonly values: pulumi.Input<Record<string, unknown>>;
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

export interface IstioSystemArgs extends Pick<IstioClusterArgs, "network" | "caCerts" | "protectCaCerts" | "source"> {
    readonly role: "primary" | "remote";
    /** Set on remotes: the primary cluster whose istiod manages this one. */
    readonly controlPlaneCluster?: string;
}

/** `istio-system` with its network label, `cacerts` and the `base` chart; istiod must wait for `cacerts`. */
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
    const cacerts = new k8s.core.v1.Secret(
        `${name}-cacerts`,
        {
            metadata: { name: "cacerts", namespace: namespace.metadata.name },
            type: "Opaque",
            stringData: cacertsSecretData(args.caCerts),
        },
        { parent, protect: args.protectCaCerts },
    );
    const base = istioRelease(
        `${name}-base`,
        {
            release: "istio-base",
            chart: "base",
            source: args.source,
            namespace: namespace.metadata.name,
            values: baseValues(args.role),
        },
        { parent },
    );
    return { namespace, cacerts, base };
}

/**
 * The network (east-west) gateway and its address: the user's fixed `gatewayAddress`, else the first
 * load balancer address of the chart's Service, read once the release (which waits for it) is installed.
 */
export function declareNetworkGateway(
    name: string,
    args: {
        readonly network: string;
        readonly namespace: pulumi.Input<string>;
        readonly source: IstioChartSource;
        readonly gatewayAddress?: string;
    },
    opts: { readonly parent: pulumi.Resource; readonly dependsOn: pulumi.Input<pulumi.Resource>[] },
) {
    const release = istioRelease(
        `${name}-network-gateway`,
        {
            release: NETWORK_GATEWAY.name,
            chart: "gateway",
            source: args.source,
            namespace: args.namespace,
            values: networkGatewayValues(args.network),
        },
        { parent: opts.parent, dependsOn: opts.dependsOn },
    );
    const fixed = args.gatewayAddress;
    const address =
        fixed !== undefined
            ? release.status.apply(() => fixed)
            : k8s.core.v1.Service.get(
                  `${name}-network-gateway-service`,
                  // Derived from the release so the read waits for it (and is skipped while it is unknown).
                  pulumi.interpolate`${release.status.namespace}/${release.status.name}`,
                  { parent: opts.parent, dependsOn: [release] },
              ).status.apply((status) => {
                  const found = loadBalancerAddress(status?.loadBalancer);
                  if (found === undefined) {
                      throw new Error(
                          `the network gateway Service ${NETWORK_GATEWAY.name} of ${name} has no load balancer address; ` +
                              "give the cluster a gatewayAddress or a load balancer implementation",
                      );
                  }
                  return found;
              });
    return { release, address };
}
