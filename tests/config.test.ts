import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ISTIO_DEFAULTS, StackConfigError, loadStackConfig } from "../lib/config";
import { planProgram } from "../scripts/lib/plan";
import { CA_FILES } from "../lib/config";
import { CHART_VALUE_KEYS } from "../lib/chart-keys";
import { cluster, kubeconfigText, meshConfig, mixedConfig, stackConfig, tempDir, useFixtureKubeconfig } from "./support";

/** The problems a config is rejected with (the error's lines after its heading). */
function problemsOf(config: Record<string, string>): string[] {
    try {
        loadStackConfig(config);
    } catch (e) {
        assert.ok(e instanceof StackConfigError, `expected a StackConfigError, got ${String(e)}`);
        return e.problems as string[];
    }
    assert.fail("the config was accepted");
}

const withRemotes = (...remotes: unknown[]) => ({ ...stackConfig(0), "istio-multicluster:remotes": JSON.stringify(remotes) });

describe("stack configuration", () => {
    let kubeconfigFile: string;
    before(() => {
        kubeconfigFile = useFixtureKubeconfig();
    });

    describe("a valid config", () => {
        it("takes a remote's token rotation marker as text (a number too)", () => {
            const config = loadStackConfig(stackConfig(0, { primary: cluster(1), remotes: [cluster(2, { tokenRotation: 3 } as object), cluster(3)] }));
            assert.deepEqual(config.remotes.map((r) => r.tokenRotation), ["3", undefined]);
        });
        it("names revisions after their version unless named, and takes the only one, or the named one, as the default", () => {
            const one = loadStackConfig(stackConfig(1, { istio: { revisions: [{ version: "1.30.3" }] } })).istio;
            assert.deepEqual([one.revisions, one.defaultRevision, one.version], [[{ name: "1-30-3", version: "1.30.3" }], "1-30-3", "1.30.3"]);
            const two = loadStackConfig(
                stackConfig(1, { istio: { revisions: [{ version: "1.29.2" }, { version: "1.30.3", name: "stable" }], defaultRevision: "stable", baseVersion: "1.30.3" }, sample: { revision: "1-29-2" } }),
            );
            assert.deepEqual(two.istio.revisions, [{ name: "1-29-2", version: "1.29.2" }, { name: "stable", version: "1.30.3" }]);
            assert.deepEqual([two.istio.defaultRevision, two.istio.version, two.sample.revision], ["stable", "1.30.3", "1-29-2"]);
        });
        it('takes the install without revisions as the revision "" beside a canary, as the default or not', () => {
            for (const defaultRevision of ["", "1-30-3"]) {
                const istio = loadStackConfig(
                    stackConfig(1, { istio: { revisions: [{ name: "", version: "1.29.2" }, { version: "1.30.3" }], defaultRevision, baseVersion: "1.30.3" } }),
                ).istio;
                assert.deepEqual(istio.revisions, [{ name: "", version: "1.29.2" }, { name: "1-30-3", version: "1.30.3" }]);
                assert.deepEqual([istio.defaultRevision, istio.version], [defaultRevision, defaultRevision === "" ? "1.29.2" : "1.30.3"]);
            }
        });
        it("takes Istio CI's mixed topology: two primaries on two networks, a remote attached to one of them", () => {
            const config = loadStackConfig(mixedConfig());
            assert.deepEqual(config.primaries.map((c) => [c.name, c.network]), [["cluster1", "network1"], ["cluster3", "network2"]]);
            assert.deepEqual(config.remotes.map((c) => [c.name, c.network, c.primary]), [["cluster2", "network1", "cluster1"]]);
            assert.equal(config.primary.name, "cluster1");
            assert.deepEqual(config.sample.versions, { cluster1: ["v1"], cluster2: ["v2"] });
        });
        it("takes multi-primary without remotes (v2 on the second primary), and one primary given as a list as the same stack as primary", () => {
            const multi = loadStackConfig(meshConfig({ primaries: [cluster(1), cluster(2, { tokenRotation: "1" } as object)] }));
            assert.deepEqual([multi.primaries.map((c) => c.name), multi.remotes, multi.sample.versions], [["cluster1", "cluster2"], [], { cluster1: ["v1"], cluster2: ["v2"] }]);
            assert.equal(multi.primaries[1].tokenRotation, "1");
            const listed = loadStackConfig(meshConfig({ primaries: [cluster(1)], remotes: [cluster(2)] }));
            assert.deepEqual(listed, loadStackConfig(stackConfig(1)));
            assert.equal(listed.remotes[0].primary, "cluster1", "a remote is attached to the only primary by default");
            // Pulumi.yaml's defaults of the key not used (primary: {}, primaries: []) mean unset.
            assert.deepEqual(loadStackConfig({ ...meshConfig({ primary: {}, remotes: [] }), ...meshConfig({ primaries: [cluster(1), cluster(2, { tokenRotation: "1" } as object)] }) }), multi);
            assert.deepEqual(loadStackConfig({ ...stackConfig(1), ...meshConfig({ primaries: [] }) }), listed);
        });
        it("fills in the documented defaults", () => {
            const config = loadStackConfig(stackConfig(1));
            assert.deepEqual(config.istio, {
                ...ISTIO_DEFAULTS,
                revisions: [{ name: "", version: ISTIO_DEFAULTS.version }],
                defaultRevision: "",
                baseVersion: ISTIO_DEFAULTS.version,
                istiod: {},
                values: {},
            });
            assert.deepEqual(config.ca, { source: "generate" });
            assert.deepEqual(config.protect, { ca: false, remoteSecrets: false });
            // Pulumi.yaml's defaults for the optional keys are empty objects: the same defaults follow.
            const fromEmpty = loadStackConfig(stackConfig(1, { istio: {}, ca: {}, protect: {}, sample: {} }));
            assert.deepEqual([fromEmpty.istio, fromEmpty.ca, fromEmpty.protect, fromEmpty.sample], [config.istio, config.ca, config.protect, config.sample]);
            // The page's placement: v1 on the primary, v2 on the first remote.
            assert.deepEqual(config.sample, { enabled: true, namespace: "sample", versions: { cluster1: ["v1"], cluster2: ["v2"] } });
        });

        it("resolves each cluster's context, API server and kubeconfig", () => {
            const config = loadStackConfig(stackConfig(1, { primary: { name: "cluster1", network: "network1", context: "kind-cluster1" } }));
            assert.equal(config.primary.context, "kind-cluster1");
            // Defaults to the context's server, like `kubectl config view --minify`.
            assert.equal(config.primary.apiServer, "https://127.0.0.1:6443");
            assert.equal((JSON.parse(config.primary.kubeconfig) as Record<string, unknown>)["current-context"], "kind-cluster1");
            assert.equal(config.remotes[0].apiServer, "https://172.18.0.3:6443");
        });

        it("uses the kubeconfig's current context when none is given", () => {
            const config = loadStackConfig(stackConfig(1, { primary: { name: "cluster1", network: "network1" } }));
            assert.equal(config.primary.context, "kind-cluster1");
        });

        it("reads a cluster's own kubeconfig, from a path or inline", () => {
            const dir = tempDir("kc-");
            const file = path.join(dir, "other");
            fs.writeFileSync(file, kubeconfigText(["other"]));
            const fromFile = loadStackConfig(stackConfig(1, { primary: cluster(1, { kubeconfig: file, context: "other", apiServer: undefined }) }));
            assert.equal(fromFile.primary.context, "other");
            assert.equal(fromFile.primary.apiServer, "https://127.0.0.1:6443");
            const inline = loadStackConfig(withRemotes(cluster(2, { kubeconfig: kubeconfigText(["inline"]), context: "inline" })));
            assert.equal(inline.remotes[0].context, "inline");
        });

        it("accepts IP and DNS gateway addresses", () => {
            const config = loadStackConfig(
                withRemotes(cluster(2, { gatewayAddress: "a1b2.elb.us-east-1.amazonaws.com" }), cluster(3, { gatewayAddress: "2001:db8::1" })),
            );
            assert.deepEqual(config.remotes.map((r) => r.gatewayAddress), ["a1b2.elb.us-east-1.amazonaws.com", "2001:db8::1"]);
        });
    });

    describe("a bad config is rejected with every problem, its key path, the value found and what is expected", () => {
        const cases: [string, () => Record<string, string>, string[]][] = [
            ["a typo of a top-level key", () => stackConfig(1, { remote: [] }), [
                "remote: unknown key; expected one of primary, primaries, remotes, istio, ca, protect, sample",
            ]],
            ["an empty remotes list", () => ({ ...stackConfig(1), "istio-multicluster:remotes": "[]" }), [
                "remotes: expected a non-empty list of clusters, found []",
            ]],
            ["a missing remotes key and a primary that is not an object", () => ({ "istio-multicluster:primary": "cluster1" }), [
                "primary: expected a cluster: { name, network, context?, kubeconfig?, apiServer?, gatewayAddress? }, found \"cluster1\"",
                "remotes: expected a non-empty list of clusters, found nothing",
            ]],
            ["an invalid network name", () => withRemotes(cluster(2, { network: "net work" })), [
                "remotes[0].network: expected an Istio network name (a Kubernetes label value: letters, digits, '-', '_' and '.'), found \"net work\"",
            ]],
            ["an invalid cluster name and an unknown context, together", () => withRemotes(cluster(2, { name: "Cluster_2", context: "nope" })), [
                "remotes[0].name: expected an Istio cluster name (a DNS-1123 label: lowercase letters, digits and '-'), found \"Cluster_2\"",
                "remotes[0].context: expected a context of the kubeconfig (kind-cluster1, kind-cluster2, kind-cluster3, kind-cluster4), found \"nope\"",
            ]],
            ["a missing name and a wrong type", () => withRemotes({ network: "network2", context: "kind-cluster2", apiServer: 6443 }), [
                "remotes[0].name: expected an Istio cluster name (a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters), found nothing",
                "remotes[0].apiServer: expected an https URL of the cluster's API server, found 6443",
            ]],
            ["a duplicate cluster name and context", () => withRemotes(cluster(1)), [
                "remotes[0].name: expected a cluster name no other cluster uses (primary has it), found \"cluster1\"",
                "remotes[0].context: expected a context no other cluster uses (primary has it), found \"kind-cluster1\"",
            ]],
            ["a typo inside a cluster", () => withRemotes({ ...cluster(2), contxt: "kind-cluster2" }), [
                "remotes[0].contxt: unknown key; expected one of name, network, context, kubeconfig, apiServer, gatewayAddress, gateway, tokenRotation, primary",
            ]],
            ["a plain-http API server, a bad gateway address and a missing kubeconfig file", () =>
                withRemotes(cluster(2, { apiServer: "http://172.18.0.3:6443", gatewayAddress: "not an address!", kubeconfig: "/no/such/kubeconfig" })), [
                "remotes[0].apiServer: expected an https URL of the cluster's API server, found \"http://172.18.0.3:6443\"",
                "remotes[0].gatewayAddress: expected an IP address or a DNS name, found \"not an address!\"",
                "remotes[0].kubeconfig: expected a kubeconfig file that exists, or inline kubeconfig, found a value that is not shown (kubeconfigs may be secret)",
            ]],
            ["a remote whose API server is loopback, given or from its kubeconfig (the primary's istiod cannot reach it)", () =>
                withRemotes(cluster(2, { apiServer: "https://localhost:6443" }), cluster(3, { apiServer: undefined })), [
                "remotes[0].apiServer: expected an API server address the primary's istiod can reach (the value, https://localhost:6443, is loopback: it works only from this machine); " +
                    "set apiServer to the address the primary's pods reach it on (kind: https://<control-plane container IP>:6443, as npm run dev:clusters writes it), found \"https://localhost:6443\"",
                "remotes[1].apiServer: expected an API server address the primary's istiod can reach (the default, context \"kind-cluster3\"'s server, https://127.0.0.1:6445, is loopback: it works only from this machine); " +
                    "set apiServer to the address the primary's pods reach it on (kind: https://<control-plane container IP>:6443, as npm run dev:clusters writes it), found nothing",
            ]],
            ["bad gateway settings: a replica count, a quantity, an annotation key, a policy and a source range", () =>
                withRemotes(cluster(2, {
                    gateway: {
                        replicas: 0,
                        resources: { requests: { cpu: "lots" } },
                        service: { annotations: { "not a key!": "x", "service.beta.kubernetes.io/aws-load-balancer-scheme": true }, externalTrafficPolicy: "local", loadBalancerSourceRanges: ["10.0.0.0"], loadBalancerIP: "nlb" },
                    },
                } as object)), [
                "remotes[0].gateway.replicas: expected a whole number of replicas, at least 1, found 0",
                "remotes[0].gateway.resources.requests.cpu: expected a Kubernetes quantity such as 500m or 2Gi, found \"lots\"",
                "remotes[0].gateway.service.annotations.not a key!: expected a value under an annotation key (the key is not one: an optional DNS-subdomain prefix and '/', then letters, digits, '-', '_', '.'), found \"x\"",
                "remotes[0].gateway.service.annotations.service.beta.kubernetes.io/aws-load-balancer-scheme: expected a string (quote numbers and booleans), found true",
                "remotes[0].gateway.service.loadBalancerIP: expected an IP address, found \"nlb\"",
                "remotes[0].gateway.service.loadBalancerSourceRanges[0]: expected an IP range in CIDR notation such as 203.0.113.0/24, found \"10.0.0.0\"",
                "remotes[0].gateway.service.externalTrafficPolicy: expected \"Cluster\" or \"Local\", found \"local\"",
            ]],
            ["chart values that are not the chart's, or that the program sets from the stack's keys", () =>
                stackConfig(1, { istio: { istiod: { replicas: 2.5 }, values: { istiod: { pilot: { env: {} }, global: { meshId: "x", network: "n" }, env: { A: "1" } }, gateway: { service: { annotations: { a: "b" } } }, proxy: {} } } }), [
                "istio.istiod.replicas: expected a whole number of replicas, at least 1, found 2.5",
                `istio.values.istiod.pilot: expected a value of Istio's istiod chart (one of ${CHART_VALUE_KEYS.istiod.top.join(", ")}), found {"env":{}}`,
                `istio.values.istiod.global.meshId: expected a global value of Istio's istiod chart (one of ${CHART_VALUE_KEYS.istiod.global.join(", ")}), found "x"`,
                "istio.values.istiod.global.network: expected a value the program does not set itself (it sets this one from the stack's own keys: see the README's \"Stack configuration\"), found \"n\"",
                "istio.values.gateway.service.annotations.a: expected a value the program does not set itself (it sets this one from each cluster's gateway.service (service.annotations.a)), found \"b\"",
                "istio.values.proxy: unknown key; expected one of base, istiod, gateway",
            ]],
            ["an inline kubeconfig without contexts", () => withRemotes(cluster(2, { kubeconfig: "apiVersion: v1\nkind: Config\nclusters: []\n" })), [
                "remotes[0].context: expected a context of the kubeconfig (it has none), found \"kind-cluster2\"",
            ]],
            ["an old Istio, a bad hub and a typo in istio", () => stackConfig(1, { istio: { version: "1.20.0", hub: "Docker Hub", verison: "1.30.3" } }), [
                "istio.version: expected an Istio release version of at least 1.26.0, found \"1.20.0\"",
                "istio.hub: expected an image registry path such as docker.io/istio, found \"Docker Hub\"",
                "istio.verison: unknown key; expected one of version, meshId, chartRepository, hub, revisions, defaultRevision, baseVersion, istiod, values",
            ]],
            ["a version that is not a release and a chart repository URL of another scheme", () =>
                stackConfig(1, { istio: { version: "latest", chartRepository: "htps://blob.istio.io/istio-release/charts" } }), [
                "istio.version: expected an Istio release version such as 1.30.3, found \"latest\"",
                "istio.chartRepository: expected an https:// or oci:// Helm chart repository URL, or a local directory holding the base, istiod and gateway charts (<chart>/ or <chart>-<version>.tgz), found \"htps://blob.istio.io/istio-release/charts\"",
            ]],
            ["CA files without a directory", () => stackConfig(1, { ca: { source: "files" } }), [
                "ca.directory: expected a directory path (ca.source is \"files\"), found nothing",
            ]],
            ["protection that is not a boolean, and an unknown thing to protect", () => stackConfig(1, { protect: { ca: "yes", crds: true } }), [
                "protect.ca: expected true or false, found \"yes\"",
                "protect.crds: unknown key; expected one of ca, remoteSecrets",
            ]],
            ["an unknown CA source", () => stackConfig(1, { ca: { source: "vault" } }), [
                "ca.source: expected \"generate\" or \"files\", found \"vault\"",
            ]],
            ["sample versions for a cluster the stack does not have, and an unknown version", () =>
                stackConfig(1, { sample: { versions: { cluster1: ["v1"], cluster9: ["v2"], cluster2: ["v3"] } } }), [
                "sample.versions.cluster2[0]: expected one of v1, v2, found \"v3\"",
                "sample.versions.cluster9: expected a cluster of this stack (cluster1, cluster2), found [\"v2\"]",
            ]],
            ["a token rotation on the primary (it has no remote secret) and a rotation marker that is not a string", () =>
                stackConfig(0, { primary: cluster(1, { tokenRotation: "1" } as object), remotes: [cluster(2, { tokenRotation: true } as object)] }), [
                "primary.tokenRotation: unknown key; expected one of name, network, context, kubeconfig, apiServer, gatewayAddress, gateway",
                "remotes[0].tokenRotation: expected a rotation marker: a short string or a number (change it to rotate), found true",
            ]],
            ["revisions beside a version, a reserved and a duplicate name, a duplicate version, no default among several", () =>
                stackConfig(1, {
                    istio: { version: "1.30.3", baseVersion: "1.30.3", revisions: [{ version: "1.29.2", name: "default" }, { version: "1.30.3", name: "canary" }, { version: "1.30.3", name: "canary" }] },
                }), [
                'istio.revisions[0].name: expected a revision name (a DNS-1123 label of at most 46 characters, not "default"), or "" for the control plane installed without a revision (istio.version), found "default"',
                "istio.version: expected no version when istio.revisions is set (each revision names its version), found \"1.30.3\"",
                "istio.revisions[2].name: expected a name no other revision has (istio.revisions[1] has canary), found \"canary\"",
                "istio.revisions[2].version: expected a version no other revision has (istio.revisions[1] has 1.30.3), found \"1.30.3\"",
                "istio.defaultRevision: expected one of default, canary (required with several revisions), found nothing",
            ]],
            ["a default revision that is not listed, a version whose name is no DNS label, and a sample pinned to no revision", () =>
                stackConfig(1, { istio: { revisions: [{ version: "1.31.0-RC.1" }, { version: "1.25.0", name: "old" }], defaultRevision: "1-30-3", baseVersion: "1.31.0-RC.1" }, sample: { revision: "stable" } }), [
                "istio.revisions[1].version: expected an Istio release version of at least 1.26.0, found \"1.25.0\"",
                'istio.revisions[0].name: expected a revision name (a DNS-1123 label of at most 46 characters, not "default"); the version\'s "1-31-0-RC-1" is not one, so give a name, found nothing',
                "istio.defaultRevision: expected one of the revisions: 1-31-0-RC-1, old, found \"1-30-3\"",
                "sample.revision: expected one of the revisions: 1-31-0-RC-1, old (unset: the default), found \"stable\"",
            ]],
            ['two installs without revisions, and a sample pinned to the one without revision', () =>
                stackConfig(1, { istio: { revisions: [{ version: "1.29.2", name: "" }, { version: "1.30.3", name: "" }], baseVersion: "1.30.3" }, sample: { revision: "" } }), [
                'istio.revisions[1].name: expected a name no other revision has (istio.revisions[0] has ""), found ""',
                'sample.revision: expected unset for the default ("" is not a revision to pin to), found ""',
            ]],
            ["several revisions without the base chart's version", () =>
                stackConfig(1, { istio: { revisions: [{ version: "1.29.2" }, { version: "1.30.5" }], defaultRevision: "1-29-2" } }), [
                "istio.baseVersion: expected the version the base chart (Istio's CRDs) runs at, required with several revisions, at least the newest (1.30.5): " +
                    "base never moves down unless you say so (README, \"Upgrade Istio by revision\"), found nothing",
            ]],
            ["a base chart version below the newest revision's", () =>
                stackConfig(1, { istio: { revisions: [{ version: "1.29.2" }, { version: "1.30.5" }], defaultRevision: "1-29-2", baseVersion: "1.29.2" } }), [
                "istio.baseVersion: expected a version at least the newest revision's (1.30.5): base's CRDs must serve every control plane, found \"1.29.2\"",
            ]],
            ["a base chart version without revisions", () => stackConfig(1, { istio: { version: "1.30.5", baseVersion: "1.30.5" } }), [
                "istio.baseVersion: expected no baseVersion without istio.revisions (base runs at istio.version), found \"1.30.5\"",
            ]],
            ["a default revision or a pinned sample without revisions", () => stackConfig(1, { istio: { defaultRevision: "stable" }, sample: { revision: "stable" } }), [
                "istio.defaultRevision: expected no defaultRevision without istio.revisions, found \"stable\"",
                "sample.revision: expected no revision without istio.revisions, found \"stable\"",
            ]],
            ["both primary and primaries, and neither", () => ({ ...mixedConfig(), ...meshConfig({ primary: cluster(4) }) }), [
                "primaries: expected either primary (one cluster running istiod) or primaries (several), not both, found [{\"name\":\"cluster1\",\"network\":\"network1\",\"context\":\"kind-cluster1\",\"apiServer...",
            ]],
            ["no cluster running istiod", () => meshConfig({ remotes: [cluster(2)] }), [
                "primary: expected the cluster running istiod: { name, network, ... } (or primaries: a list of them), found nothing",
            ]],
            ["a remote naming an unknown primary, one naming a remote, one naming none among several, and a primary attached to a primary", () =>
                meshConfig({
                    primaries: [cluster(1), { ...cluster(3), primary: "cluster1" }],
                    remotes: [{ ...cluster(2), primary: "cluster9" }, { ...cluster(4), primary: "cluster2" }, cluster(5, { context: "kind-cluster1", kubeconfig: undefined })],
                }), [
                "primaries[1].primary: expected no primary: a primary runs its own istiod (list the cluster under remotes to attach it to a primary), found \"cluster1\"",
                "remotes[0].primary: expected one of the primaries: cluster1, cluster3, found \"cluster9\"",
                "remotes[1].primary: expected one of the primaries: cluster1, cluster3, found \"cluster2\"",
                "remotes[2].primary: expected the name of the primary it is attached to, one of cluster1, cluster3 (required with several primaries), found nothing",
                "remotes[2].context: expected a context no other cluster uses (primaries[0] has it), found \"kind-cluster1\"",
            ]],
            ["a lone primary with no remote and a token to rotate", () =>
                meshConfig({ primaries: [cluster(1, { tokenRotation: "2" } as object)] }), [
                "remotes: expected a non-empty list of clusters (a mesh of one primary needs a remote), found nothing",
                "primaries[0].tokenRotation: expected no tokenRotation on the only primary: no other istiod watches it, so it has no reader token, found \"2\"",
            ]],
            ["two primaries of one name on one context, and a primary others must reach on loopback", () =>
                meshConfig({ primaries: [cluster(1), cluster(1, { apiServer: "https://127.0.0.1:6443" })] }), [
                "primaries[1].apiServer: expected an API server address the primary's istiod can reach (the value, https://127.0.0.1:6443, is loopback: it works only from this machine); set apiServer to the address the primary's pods reach it on (kind: https://<control-plane container IP>:6443, as npm run dev:clusters writes it), found \"https://127.0.0.1:6443\"",
                "primaries[1].name: expected a cluster name no other cluster uses (primaries[0] has it), found \"cluster1\"",
                "primaries[1].context: expected a context no other cluster uses (primaries[0] has it), found \"kind-cluster1\"",
            ]],
            ["a sample flag that is not a boolean and a bad namespace", () => stackConfig(1, { sample: { enabled: "yes", namespace: "Sample NS" } }), [
                "sample.enabled: expected true or false, found \"yes\"",
                "sample.namespace: expected a namespace name (a DNS-1123 label: lowercase letters, digits and '-'), found \"Sample NS\"",
            ]],
        ];

        for (const [what, config, expected] of cases) {
            it(what, () => assert.deepEqual(problemsOf(config()), expected));
        }

        it("checks a local chart directory: it must exist and hold base, istiod and gateway", () => {
            const dir = tempDir("charts-");
            const expected = "istio.chartRepository: expected an https:// or oci:// Helm chart repository URL, or a local directory holding the base, istiod and gateway charts (<chart>/ or <chart>-<version>.tgz)";
            assert.deepEqual(problemsOf(stackConfig(1, { istio: { chartRepository: path.join(dir, "nowhere") } })), [
                `${expected} (${path.join(dir, "nowhere")} is not a directory), found ${JSON.stringify(path.join(dir, "nowhere"))}`,
            ]);
            fs.mkdirSync(path.join(dir, "base"));
            fs.writeFileSync(path.join(dir, "base", "Chart.yaml"), "name: base\n");
            fs.writeFileSync(path.join(dir, "gateway-1.29.0.tgz"), "not this version");
            assert.deepEqual(problemsOf(stackConfig(1, { istio: { chartRepository: dir, version: "1.30.3" } })), [
                `${expected} (${dir} has no istiod, gateway chart), found ${JSON.stringify(dir)}`,
            ]);
            // Directories and archives as `helm pull` names them; a file:// URL names the same directory.
            fs.writeFileSync(path.join(dir, `istiod-${ISTIO_DEFAULTS.version}.tgz`), "");
            fs.writeFileSync(path.join(dir, "gateway.tgz"), "");
            assert.equal(loadStackConfig(stackConfig(1, { istio: { chartRepository: dir } })).istio.chartRepository, dir);
            assert.equal(loadStackConfig(stackConfig(1, { istio: { chartRepository: `file://${dir}` } })).istio.chartRepository, `file://${dir}`);
        });

        it("names the missing CA files of the cluster running istiod, and asks none of a remote", () => {
            const dir = tempDir("ca-");
            fs.mkdirSync(path.join(dir, "cluster1"));
            fs.writeFileSync(path.join(dir, "cluster1", "ca-cert.pem"), "pem");
            assert.deepEqual(problemsOf(stackConfig(1, { ca: { source: "files", directory: dir } })), [
                `ca.directory: expected a directory holding <cluster>/{ca-cert.pem,ca-key.pem,root-cert.pem,cert-chain.pem} for each cluster running istiod (cluster1) ` +
                    `(missing: cluster1/ca-key.pem, cluster1/root-cert.pem, cluster1/cert-chain.pem), found ${JSON.stringify(dir)}`,
            ]);
            for (const f of CA_FILES) fs.writeFileSync(path.join(dir, "cluster1", f), "pem");
            // No cluster2/ at all: a remote holds no CA.
            assert.equal(loadStackConfig(stackConfig(1, { ca: { source: "files", directory: dir } })).ca.directory, dir);
            // Every primary holds one; the remote of the mixed shape (cluster2) still none.
            assert.deepEqual(problemsOf(mixedConfig({ ca: { source: "files", directory: dir } })), [
                `ca.directory: expected a directory holding <cluster>/{ca-cert.pem,ca-key.pem,root-cert.pem,cert-chain.pem} for each cluster running istiod (cluster1, cluster3) ` +
                    `(missing: cluster3/ca-cert.pem, cluster3/ca-key.pem, cluster3/root-cert.pem, cluster3/cert-chain.pem), found ${JSON.stringify(dir)}`,
            ]);
        });

        it("says when there is no kubeconfig at all", () => {
            const saved = process.env.KUBECONFIG;
            process.env.KUBECONFIG = "/no/such/file";
            try {
                assert.deepEqual(problemsOf(stackConfig(1)), [
                    "primary.kubeconfig: expected a kubeconfig (KUBECONFIG names no existing file), found nothing",
                    "remotes[0].kubeconfig: expected a kubeconfig (KUBECONFIG names no existing file), found nothing",
                ]);
            } finally {
                process.env.KUBECONFIG = saved;
            }
        });

        it("never shows an inline kubeconfig, which may be a secret", () => {
            const secretKubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: s3cr3t-token\n";
            const message = (() => {
                try {
                    loadStackConfig(withRemotes(cluster(2, { kubeconfig: secretKubeconfig, network: "bad network" })));
                } catch (e) {
                    return (e as Error).message;
                }
                return "";
            })();
            assert.match(message, /remotes\[0\]\.network/);
            assert.doesNotMatch(message, /s3cr3t-token/);
        });

        it("does not quote a default kubeconfig that fails to parse (its lines may hold credentials)", () => {
            const file = path.join(tempDir("bad-kc-"), "config");
            fs.writeFileSync(file, "users:\n- name: u\n  user: {token: s3cr3t-token\n");
            const saved = process.env.KUBECONFIG;
            process.env.KUBECONFIG = file;
            try {
                const problems = problemsOf(stackConfig(1));
                assert.equal(problems[0], "primary.kubeconfig: expected a kubeconfig that parses (the default one does not), found nothing");
                assert.doesNotMatch(problems.join("\n"), /s3cr3t/);
            } finally {
                process.env.KUBECONFIG = saved;
            }
        });

        it("fails the program before it declares any resource", async () => {
            await assert.rejects(
                planProgram({ ...stackConfig(1), "istio-multicluster:remotes": "[]" }),
                (e: Error) => e instanceof StackConfigError && /nothing was created/.test(e.message),
            );
            // A fresh, valid run declares resources: the rejection above is not a broken harness.
            const { resources } = await planProgram(stackConfig(1));
            assert.ok(resources.length > 0);
        });
    });

    after(() => {
        assert.ok(kubeconfigFile);
    });
});
