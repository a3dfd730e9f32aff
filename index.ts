// First: a clear message on a Node.js too old for the dependencies below.
import "./lib/require-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterAwareGateway } from "./components/cluster-aware-gateway";
import { HelloworldSample, tryItCommand } from "./components/helloworld-sample";
import { IstioPrimary } from "./components/istio-primary";
import { IstioRemote } from "./components/istio-remote";
import { SharedRootCA } from "./components/shared-root-ca";
import { readCaCertsFiles } from "./lib/cacerts";
import { type ClusterConfig, loadStackConfig } from "./lib/config";
import type { IstioClusterArgs } from "./lib/istio-cluster";
import { hasRevisions } from "./lib/revisions";

// Validate everything before declaring anything: a bad config throws here with every problem listed.
const config = loadStackConfig(pulumi.runtime.allConfig());
const clusters = [config.primary, ...config.remotes];
const source = config.istio;

// Secrets are updated in place (enableSecretMutable): by default the provider replaces a Secret whose
// data changes, and a named one is deleted before it is recreated — a remote secret would vanish from
// istiod during a token rotation (seen in the e2e), and `cacerts` during a CA rotation.
const providers = new Map(
    clusters.map((c) => [
        c.name,
        new k8s.Provider(c.name, { kubeconfig: pulumi.secret(c.kubeconfig), context: c.context, enableSecretMutable: true }),
    ]),
);
const providerOf = (name: string) => providers.get(name) as k8s.Provider;

// CA key material only where istiod runs (the primary): remotes' workloads are signed there.
const { directory } = config.ca;
const signers = [config.primary];
const cacerts =
    directory !== undefined && config.ca.source === "files"
        ? Object.fromEntries(signers.map((c) => [c.name, readCaCertsFiles(directory, c.name)]))
        : new SharedRootCA("mesh-ca", { clusterNames: signers.map((c) => c.name) }, { protect: config.protect.ca }).cacerts;

/** The control planes by revision (one without revision unless `istio.revisions` is set). */
const controlPlanes = { revisions: source.revisions, defaultRevision: source.defaultRevision, baseVersion: source.baseVersion };

/** What every cluster's component takes, primary or remote. */
const clusterArgs = (c: ClusterConfig): IstioClusterArgs => ({
    clusterName: c.name,
    network: c.network,
    meshId: source.meshId,
    source,
    controlPlanes,
    gatewayAddress: c.gatewayAddress,
    gateway: c.gateway,
    chartValues: source.values,
});

const primary = new IstioPrimary(
    config.primary.name,
    { ...clusterArgs(config.primary), caCerts: cacerts[config.primary.name], protectCaCerts: config.protect.ca, istiod: source.istiod },
    { provider: providerOf(config.primary.name) },
);

const remotes = config.remotes.map(
    (r) =>
        new IstioRemote(
            r.name,
            {
                ...clusterArgs(r),
                protectRemoteSecret: config.protect.remoteSecrets,
                tokenRotation: r.tokenRotation,
                apiServer: r.apiServer,
                primary: {
                    clusterName: config.primary.name,
                    provider: providerOf(config.primary.name),
                    namespace: primary.namespace,
                    discoveryAddresses: primary.discoveryAddresses,
                },
            },
            { provider: providerOf(r.name) },
        ),
);

/** Each cluster with its component, primary first. */
const members: { cluster: ClusterConfig; mesh: IstioPrimary | IstioRemote }[] = [
    { cluster: config.primary, mesh: primary },
    ...config.remotes.map((r, i) => ({ cluster: r, mesh: remotes[i] })),
];

new ClusterAwareGateway(
    `${config.primary.name}-cluster-aware-routing`,
    {
        namespace: primary.namespace,
        istiod: primary.istiod,
        istiods: primary.istiods,
        networkGateways: members.map(({ cluster, mesh }) =>
            mesh.gatewayAddress.apply((address) => ({ clusterName: cluster.name, network: cluster.network, address })),
        ),
    },
    { provider: providerOf(config.primary.name) },
);

// The page's proof: helloworld versions where the stack places them, the curl client on the primary.
const samples = config.sample.enabled
    ? members.map(
          ({ cluster, mesh }) =>
              new HelloworldSample(
                  `${cluster.name}-sample`,
                  {
                      namespace: config.sample.namespace,
                      versions: config.sample.versions[cluster.name] ?? [],
                      client: cluster === config.primary,
                      imageHub: source.hub,
                      revision: config.sample.revision,
                      injectionReady: mesh.injectionReadyFor(config.sample.revision),
                  },
                  { provider: providerOf(cluster.name) },
              ),
      )
    : [];

/** Each cluster's network gateway address, by cluster name. */
export const gatewayAddresses = pulumi
    .all(members.map((m) => m.mesh.gatewayAddress))
    .apply((addresses) => Object.fromEntries(members.map((m, i) => [m.cluster.name, addresses[i]])));
/** The remote secrets istiod watches on the primary. */
export const remoteSecretNames = pulumi.all(remotes.map((r) => r.remoteSecret.secretName));
/** The Istio release the mesh runs: the default revision's. */
export const istioVersion = source.version;
/** The control planes installed side by side (none listed: one control plane without revision). */
export const revisions = hasRevisions(controlPlanes) ? source.revisions.map((r) => ({ name: r.name, version: r.version })) : [];
/** The revision behind the `default` tag (unset without revisions). */
export const defaultRevision = hasRevisions(controlPlanes) ? source.defaultRevision : undefined;
/** The sample's namespace, when the sample is enabled. */
export const sampleNamespace = samples.length > 0 ? samples[0].namespace : undefined;
/** The page's proof, as a command to run (or `npm run verify`). */
export const sampleCommand = samples.length > 0 ? tryItCommand(config.primary.context, config.sample.namespace) : undefined;
