import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import * as YAML from "yaml";
import { CA_FILES, ISTIO_DEFAULTS } from "../lib/config";
import type { MeshNetworks } from "../lib/istio-values";
import { SECRET, UNKNOWN, longestChain, planProgram } from "../scripts/lib/plan";
import { at, kubernetesObjects, named, ofType, stackConfig, tempDir, useFixtureKubeconfig, waitsFor } from "./support";

type Resources = Awaited<ReturnType<typeof planProgram>>["resources"];
const meshNetworksOf = (resources: Resources) =>
    YAML.parse((named(resources, "cluster1-cluster-aware-routing-mesh-networks").inputs.data as { meshNetworks: string }).meshNetworks) as MeshNetworks;
const remotePilotAddressOf = (resources: Resources, remote: string) => at(named(resources, `${remote}-istiod`).inputs, "values.global.remotePilotAddress");

describe("the program", () => {
    before(() => useFixtureKubeconfig());

    describe("with one remote (the page's topology)", () => {
        let plan: Awaited<ReturnType<typeof planProgram>>;
        before(async () => {
            plan = await planProgram(stackConfig(1));
        });

        it("declares one explicit provider per cluster, from its kubeconfig context, as a secret", () => {
            const providers = ofType(plan.resources, "pulumi:providers:kubernetes");
            assert.deepEqual(providers.map((p) => p.name), ["cluster1", "cluster2"]);
            for (const p of providers) {
                assert.equal(p.inputs.context, `kind-${p.name}`);
                assert.deepEqual(p.secretInputs, ["kubeconfig"]);
                // A changed Secret (remote secret, cacerts) is updated, never deleted and recreated.
                assert.equal(String(p.inputs.enableSecretMutable), "true"); // provider inputs travel as strings
            }
        });

        it("puts no Kubernetes object on a default provider", () => {
            const objects = kubernetesObjects(plan.resources);
            assert.ok(objects.length >= 19, `only ${objects.length} objects`);
            for (const r of objects) assert.ok(r.provider === "cluster1" || r.provider === "cluster2", `${r.name} has no cluster provider`);
        });

        it("puts the control plane and cluster-aware routing on the primary, and the remote's pieces on the remote", () => {
            const where = (name: string) => named(plan.resources, name).provider;
            for (const name of ["cluster1-istiod", "cluster1-network-gateway", "cluster1-istiod-gateway", "cluster1-istiod-vs",
                "cluster1-peer-authentication", "cluster1-cluster-aware-routing-cross-network-gateway",
                "cluster1-cluster-aware-routing-mesh-networks", "cluster2-remote-secret-secret-cluster1"]) {
                assert.equal(where(name), "cluster1", name);
            }
            for (const name of ["cluster2-istio-system", "cluster2-base", "cluster2-istiod",
                "cluster2-network-gateway", "cluster2-remote-secret-reader-token"]) {
                assert.equal(where(name), "cluster2", name);
            }
        });

        it("writes the remote gateway's address into the primary's mesh networks, and the primary's into the remote's istiod", () => {
            assert.deepEqual(meshNetworksOf(plan.resources).networks, {
                network1: { endpoints: [{ fromRegistry: "cluster1" }], gateways: [{ address: "203.0.113.10", port: 15443 }] },
                network2: { endpoints: [{ fromRegistry: "cluster2" }], gateways: [{ address: "203.0.113.11", port: 15443 }] },
            });
            assert.equal(remotePilotAddressOf(plan.resources, "cluster2"), "203.0.113.10");
        });

        it("shows the remote secret only masked, and exports only its name", () => {
            // The plan masks it; the stack exports none of it. Read it where it is built.
            const secret = named(plan.resources, "cluster2-remote-secret-secret-cluster1");
            assert.deepEqual(secret.inputs.stringData, { cluster2: SECRET });
            assert.deepEqual(plan.outputs.remoteSecretNames, ["istio-remote-secret-cluster2"]);
        });

        it("keeps every sensitive value secret and out of the stack outputs", () => {
            const secretAt = (name: string) => named(plan.resources, name).secretInputs;
            assert.deepEqual(secretAt("cluster1-cacerts"), ["stringData"]);
            assert.deepEqual(secretAt("cluster2-remote-secret-secret-cluster1"), ["stringData"]);
            for (const csr of ofType(plan.resources, "tls:index/certRequest:CertRequest")) assert.deepEqual(csr.secretInputs, ["privateKeyPem"]);
            const exported = JSON.stringify(plan.outputs);
            for (const leak of ["PRIVATE KEY", "reader-token", "user-token", "BEGIN CERTIFICATE"]) assert.ok(!exported.includes(leak), leak);
        });

        it("gives CA key material only to the cluster running istiod: one intermediate under the root, for the primary", () => {
            const root = named(plan.resources, "mesh-ca-root-cert");
            const intermediates = ofType(plan.resources, "tls:index/locallySignedCert:LocallySignedCert");
            assert.deepEqual(intermediates.map((c) => c.name), ["mesh-ca-cluster1-cert"]);
            assert.equal(intermediates[0].inputs.caCertPem, `-----BEGIN CERTIFICATE-----\nmesh-ca-root-cert\n-----END CERTIFICATE-----\n`);
            assert.ok(waitsFor(plan.resources, named(plan.resources, "cluster1-cacerts"), root));
            // The remote holds no CA: the primary's istiod signs its workloads and writes it the root.
            const onRemote = kubernetesObjects(plan.resources).filter((r) => r.provider === "cluster2").map((r) => r.name);
            assert.ok(!onRemote.some((n) => n.includes("cacerts")), onRemote.join(", "));
            assert.ok(!ofType(plan.resources, "tls:index/privateKey:PrivateKey").some((k) => k.name.includes("cluster2")));
        });

        it("orders the install as the guide does: cacerts, istiod, gateway, exposed istiod, remote, secret, remote gateway, mesh networks", () => {
            const r = (name: string) => named(plan.resources, name);
            const order: [string, string][] = [
                ["cluster1-istiod", "cluster1-cacerts"],
                ["cluster1-network-gateway", "cluster1-istiod"],
                ["cluster2-istiod", "cluster1-network-gateway"],
                ["cluster2-istiod", "cluster1-istiod-gateway"],
                ["cluster2-istiod", "cluster1-istiod-vs"],
                ["cluster2-remote-secret-secret-cluster1", "cluster2-remote-secret-reader-token"],
                ["cluster2-remote-secret-reader-token", "cluster2-base"],
                ["cluster2-network-gateway", "cluster2-remote-secret-secret-cluster1"],
                ["cluster2-network-gateway", "cluster2-istiod"],
                ["cluster1-cluster-aware-routing-mesh-networks", "cluster2-network-gateway"],
                ["cluster1-cluster-aware-routing-mesh-networks", "cluster1-istiod"],
            ];
            for (const [later, earlier] of order) assert.ok(waitsFor(plan.resources, r(later), r(earlier)), `${later} does not wait for ${earlier}`);
            // ...and nothing on the primary's control plane waits for a remote.
            assert.ok(!waitsFor(plan.resources, r("cluster1-istiod"), r("cluster2-base")));
        });

        it("exports each gateway address, the remote secret names and the Istio version", () => {
            assert.deepEqual(plan.outputs, {
                defaultRevision: undefined,
                revisions: [],
                gatewayAddresses: { cluster1: "203.0.113.10", cluster2: "203.0.113.11" },
                remoteSecretNames: ["istio-remote-secret-cluster2"],
                istioVersion: ISTIO_DEFAULTS.version,
                sampleNamespace: "sample",
                sampleCommand: "kubectl --context=kind-cluster1 -n sample exec deploy/curl -c curl -- curl -sS helloworld.sample:5000/hello",
            });
        });
    });

    describe("with three remotes", () => {
        it("gives each remote its own resources, network and secret, in parallel", async () => {
            // The mesh alone: the sample places versions on some remotes only (tested below).
            const one = await planProgram(stackConfig(1, { sample: { enabled: false } }));
            const three = await planProgram(stackConfig(3, { sample: { enabled: false } }));
            const urns = three.resources.map((r) => r.urn);
            assert.equal(new Set(urns).size, urns.length, "two resources share a URN");
            // A remote is its provider and everything named after it, plus its intermediate CA (key, CSR, cert).
            const perRemote = one.resources.filter((r) => r.name.startsWith("cluster2") || r.name.startsWith("mesh-ca-cluster2-")).length;
            assert.equal(three.resources.length - one.resources.length, 2 * perRemote);
            assert.deepEqual(Object.keys(meshNetworksOf(three.resources).networks), ["network1", "network2", "network3", "network4"]);
            for (const remote of ["cluster2", "cluster3", "cluster4"]) {
                assert.equal(remotePilotAddressOf(three.resources, remote), "203.0.113.10");
                assert.ok(named(three.resources, `${remote}-remote-secret-secret-cluster1`));
            }
            assert.deepEqual(three.outputs.remoteSecretNames, ["istio-remote-secret-cluster2", "istio-remote-secret-cluster3", "istio-remote-secret-cluster4"]);
            // Remotes do not wait for each other: the longest chain is the same.
            assert.equal(longestChain(three), longestChain(one));
            assert.ok(!waitsFor(three.resources, named(three.resources, "cluster4-network-gateway"), named(three.resources, "cluster3-base")));
        });
    });

    describe("the helloworld sample", () => {
        it("runs v1 and the client on the primary and v2 on the first remote, each after its cluster's injection", async () => {
            const plan = await planProgram(stackConfig(2));
            const where = (name: string) => named(plan.resources, name).provider;
            assert.equal(where("cluster1-sample-helloworld-v1"), "cluster1");
            assert.equal(where("cluster1-sample-curl"), "cluster1");
            assert.equal(where("cluster2-sample-helloworld-v2"), "cluster2");
            // Every cluster has the namespace and the Service; a later remote runs no version unless asked.
            for (const cluster of ["cluster1", "cluster2", "cluster3"]) assert.equal(where(`${cluster}-sample-helloworld`), cluster);
            assert.ok(!plan.resources.some((r) => r.name.startsWith("cluster3-sample-helloworld-v")));
            const r = (name: string) => named(plan.resources, name);
            assert.ok(waitsFor(plan.resources, r("cluster1-sample-helloworld-v1"), r("cluster1-istiod")));
            assert.ok(waitsFor(plan.resources, r("cluster2-sample-helloworld-v2"), r("cluster2-istiod")));
            assert.ok(waitsFor(plan.resources, r("cluster2-sample-helloworld-v2"), r("cluster2-remote-secret-secret-cluster1")));
        });

        it("places versions where the stack asks", async () => {
            const plan = await planProgram(stackConfig(2, { sample: { versions: { cluster2: ["v1"], cluster3: ["v1", "v2"] } } }));
            const versions = plan.resources.filter((r) => /-sample-helloworld-v\d$/.test(r.name)).map((r) => r.name);
            assert.deepEqual(versions.sort(), ["cluster2-sample-helloworld-v1", "cluster3-sample-helloworld-v1", "cluster3-sample-helloworld-v2"]);
        });

        it("is left out when disabled", async () => {
            const plan = await planProgram(stackConfig(1, { sample: { enabled: false } }));
            assert.ok(!plan.resources.some((r) => r.name.includes("-sample")));
            assert.equal(plan.outputs.sampleCommand, undefined);
        });
    });

    describe("protection from config", () => {
        it("protects the CA and the remote secrets when asked, and nothing else", async () => {
            const protectedNames = async (protect: Record<string, boolean>) =>
                (await planProgram(stackConfig(1, { protect }))).resources.filter((r) => r.protect).map((r) => r.name).sort();
            assert.deepEqual(await protectedNames({}), []);
            const ca = await protectedNames({ ca: true });
            assert.ok(ca.includes("mesh-ca-root-key") && ca.includes("mesh-ca-cluster1-cert"));
            assert.ok(ca.includes("cluster1-cacerts") && !ca.includes("cluster2-cacerts"));
            assert.ok(ca.every((n) => n.startsWith("mesh-ca") || n.endsWith("-cacerts")), ca.join(", "));
            assert.deepEqual(await protectedNames({ remoteSecrets: true }), [
                "cluster2-remote-secret",
                "cluster2-remote-secret-reader-token",
                "cluster2-remote-secret-secret-cluster1",
            ]);
        });
    });

    describe("with Istio's charts in a local directory (air-gapped)", () => {
        it("installs each release from its chart there, with no repository and no version (the chart is the version)", async () => {
            const dir = tempDir("charts-");
            for (const chart of ["base", "gateway"]) {
                fs.mkdirSync(path.join(dir, chart));
                fs.writeFileSync(path.join(dir, chart, "Chart.yaml"), `name: ${chart}\n`);
            }
            fs.writeFileSync(path.join(dir, `istiod-${ISTIO_DEFAULTS.version}.tgz`), "");
            const plan = await planProgram(stackConfig(1, { istio: { chartRepository: dir } }));
            const releases = ofType(plan.resources, "kubernetes:helm.sh/v3:Release");
            assert.equal(releases.length, 6);
            for (const r of releases) {
                assert.equal(r.inputs.repositoryOpts, undefined, r.name);
                assert.equal(r.inputs.version, undefined, r.name);
            }
            assert.equal(named(plan.resources, "cluster2-base").inputs.chart, path.join(dir, "base"));
            assert.equal(named(plan.resources, "cluster1-istiod").inputs.chart, path.join(dir, `istiod-${ISTIO_DEFAULTS.version}.tgz`));
            assert.equal(named(plan.resources, "cluster2-network-gateway").inputs.chart, path.join(dir, "gateway"));
        });
    });

    describe("with hostname load balancers (AWS ELB)", () => {
        it("writes hostnames into mesh networks and resolves the primary's for the remotes' istiod", async () => {
            // `localhost` resolves without a network, through the same resolver a real run uses.
            const plan = await planProgram(stackConfig(1), {
                loadBalancer: (cluster) => ({ hostname: cluster === "cluster1" ? "localhost" : `${cluster}.elb.amazonaws.com` }),
            });
            assert.deepEqual(meshNetworksOf(plan.resources).networks.network2.gateways, [{ address: "cluster2.elb.amazonaws.com", port: 15443 }]);
            assert.equal(remotePilotAddressOf(plan.resources, "cluster2"), "127.0.0.1");
            assert.deepEqual(plan.outputs.gatewayAddresses, { cluster1: "localhost", cluster2: "cluster2.elb.amazonaws.com" });
        });
    });

    describe("with fixed gateway addresses and CA files", () => {
        it("uses the configured addresses and reads the CA from files as secrets", async () => {
            const dir = tempDir("certs-");
            // Only the primary's directory: the remote runs no istiod and needs no CA.
            fs.mkdirSync(path.join(dir, "cluster1"));
            for (const f of CA_FILES) fs.writeFileSync(path.join(dir, "cluster1", f), `cluster1/${f}`);
            const config = stackConfig(0, {
                primary: { name: "cluster1", network: "network1", context: "kind-cluster1", gatewayAddress: "198.51.100.1" },
                remotes: [{ name: "cluster2", network: "network2", context: "kind-cluster2", apiServer: "https://172.18.0.3:6443", gatewayAddress: "gw2.example.com" }],
                ca: { source: "files", directory: dir },
            });
            const plan = await planProgram(config);
            assert.equal(ofType(plan.resources, "tls:index/privateKey:PrivateKey").length, 0);
            assert.equal(plan.resources.filter((r) => r.read).length, 0);
            assert.deepEqual(named(plan.resources, "cluster1-cacerts").secretInputs, ["stringData"]);
            assert.equal(plan.resources.filter((r) => r.name === "cluster2-cacerts").length, 0);
            assert.deepEqual(plan.outputs.gatewayAddresses, { cluster1: "198.51.100.1", cluster2: "gw2.example.com" });
            assert.equal(remotePilotAddressOf(plan.resources, "cluster2"), "198.51.100.1");
        });
    });

    describe("a first preview, where every address, token and certificate is unknown", () => {
        it("declares the same resources as the update, with the unknowns unknown", async () => {
            const up = await planProgram(stackConfig(2));
            const preview = await planProgram(stackConfig(2), { preview: true });
            assert.deepEqual(preview.resources.map((r) => r.urn).sort(), up.resources.map((r) => r.urn).sort());
            assert.equal(remotePilotAddressOf(preview.resources, "cluster3"), UNKNOWN);
            const patch = named(preview.resources, "cluster1-cluster-aware-routing-mesh-networks");
            assert.equal(at(patch.inputs, "data.meshNetworks"), UNKNOWN);
            for (const read of preview.resources.filter((r) => r.read)) assert.equal(read.readId, UNKNOWN, `${read.name} would be read`);
        });
    });

    describe("the remote secret", () => {
        it("holds a kubeconfig for the configured apiServer (not the laptop's address) and the remote's reader token", async () => {
            const plan = await planProgram(stackConfig(1), { revealSecrets: true });
            const secret = named(plan.resources, "cluster2-remote-secret-secret-cluster1");
            assert.deepEqual(secret.secretInputs, ["stringData"]);
            const kc = new KubeConfig();
            kc.loadFromString(at(secret.inputs, "stringData.cluster2") as string);
            assert.equal(kc.getCluster("cluster2")?.server, "https://172.18.0.3:6443");
            assert.equal(kc.getUser("cluster2")?.token, "reader-token-of-cluster2");
        });
    });
});
