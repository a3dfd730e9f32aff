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
const clusters = [...config.primaries, ...config.remotes];
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

// CA key material only where istiod runs (the primaries, each an intermediate under the one root):
// remotes' workloads are signed by their primary.
const { directory } = config.ca;
const signers = config.primaries;
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

const primaries = new Map(
    config.primaries.map((p) => [
        p.name,
        new IstioPrimary(
            p.name,
            { ...clusterArgs(p), caCerts: cacerts[p.name], protectCaCerts: config.protect.ca, istiod: source.istiod },
            { provider: providerOf(p.name) },
        ),
    ]),
);
const primaryOf = (name: string) => primaries.get(name) as IstioPrimary;
const referenceOf = (name: string) => primaryOf(name).reference();
/** The primaries but `name`: with several, each watches every other cluster of the mesh. */
const primariesBut = (name: string) => config.primaries.filter((p) => p.name !== name).map((p) => referenceOf(p.name));

const remotes = config.remotes.map(
    (r) =>
        new IstioRemote(
            r.name,
            {
                ...clusterArgs(r),
                protectRemoteSecret: config.protect.remoteSecrets,
                tokenRotation: r.tokenRotation,
                apiServer: r.apiServer,
                primary: referenceOf(r.primary),
                otherPrimaries: primariesBut(r.primary),
            },
            { provider: providerOf(r.name) },
        ),
);

// Multi-primary: every primary is watched by the others (one reader token each, a remote secret on every other primary).
const watchedPrimaries =
    config.primaries.length > 1
        ? config.primaries.map((p) =>
              primaryOf(p.name).watchedBy({
                  apiServer: p.apiServer,
                  tokenRotation: p.tokenRotation,
                  protect: config.protect.remoteSecrets,
                  watchers: primariesBut(p.name),
              }),
          )
        : [];

/** Each cluster with its component, primaries first. */
const members: { cluster: ClusterConfig; mesh: IstioPrimary | IstioRemote }[] = [
    ...config.primaries.map((p) => ({ cluster: p, mesh: primaryOf(p.name) })),
    ...config.remotes.map((r, i) => ({ cluster: r, mesh: remotes[i] })),
];

// Every primary's istiod gets the same mesh networks (Istio: if kept, they must be the same in every
// istiod), naming every network's gateway, and its own cross-network Gateway for its clusters' gateways.
const networkGateways = members.map(({ cluster, mesh }) =>
    mesh.gatewayAddress.apply((address) => ({ clusterName: cluster.name, network: cluster.network, address })),
);
for (const p of config.primaries) {
    const primary = primaryOf(p.name);
    new ClusterAwareGateway(
        `${p.name}-cluster-aware-routing`,
        { namespace: primary.namespace, istiod: primary.istiod, istiods: primary.istiods, networkGateways },
        { provider: providerOf(p.name) },
    );
}

// The page's proof: helloworld versions where the stack places them, the curl client on the primary.
const samples = config.sample.enabled
    ? members.map(
          ({ cluster, mesh }) =>
              new HelloworldSample(
                  `${cluster.name}-sample`,
                  {
                      namespace: config.sample.namespace,
                      versions: config.sample.versions[cluster.name] ?? [],
                      client: cluster.name === config.primary.name,
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
/** The remote secrets the primaries' istiods watch (the remotes', then with several primaries theirs). */
export const remoteSecretNames = pulumi.all([...remotes.map((r) => r.remoteSecret.secretName), ...watchedPrimaries.map((s) => s.secretName)]);
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
