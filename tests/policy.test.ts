import { strict as assert } from "node:assert";
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { type PlannedResource, planProgram } from "../scripts/lib/plan";
import { explicitKubernetesProvider, injectionResolves, networkGatewaySurvivesADrain, noSecretsInConfigMaps, policies, remoteSecretShape, strictMtls } from "../policy/rules";
import { networkGatewayValues } from "../lib/istio-values";
import { stackConfig, useFixtureKubeconfig } from "./support";

/** The violations a policy reports for one resource. */
async function violations(policy: ResourceValidationPolicy, type: string, props: Record<string, unknown>, provider: string | undefined = "cluster1", name = "r"): Promise<string[]> {
    const found: string[] = [];
    const args = { type, props, name, urn: `urn:pulumi:test::p::${type}::${name}`, provider: provider ? { name: provider } : undefined } as unknown as ResourceValidationArgs;
    const validate = policy.validateResource;
    for (const v of Array.isArray(validate) ? validate : validate ? [validate] : []) await v(args, (message) => found.push(message ?? ""));
    return found;
}

/** The violations a stack policy reports for planned resources. */
async function stackViolations(policy: StackValidationPolicy, resources: readonly Pick<PlannedResource, "type" | "name" | "inputs" | "provider">[]): Promise<string[]> {
    const found: string[] = [];
    const policyResources = resources.map(
        (r) => ({ type: r.type, name: r.name, props: r.inputs, urn: `urn:${r.name}`, provider: r.provider ? { name: r.provider } : undefined }) as unknown as PolicyResource,
    );
    await policy.validateStack({ resources: policyResources } as unknown as StackValidationArgs, (message) => found.push(message ?? ""));
    return found;
}

const isStackPolicy = (p: ResourceValidationPolicy | StackValidationPolicy): p is StackValidationPolicy => "validateStack" in p;

const PA = "kubernetes:security.istio.io/v1:PeerAuthentication";
const DR = "kubernetes:networking.istio.io/v1:DestinationRule";

describe("policy pack", () => {
    describe("kubernetes-explicit-provider", () => {
        it("passes a cluster's provider", async () => assert.deepEqual(await violations(explicitKubernetesProvider, "kubernetes:core/v1:Namespace", {}, "cluster1"), []));
        it("rejects a default provider", async () =>
            assert.deepEqual(await violations(explicitKubernetesProvider, "kubernetes:core/v1:Namespace", {}, "default_4_34_2", "ns"), [
                "ns is on the default provider default_4_34_2; give it its cluster's provider",
            ]));
        it("ignores other packages", async () => assert.deepEqual(await violations(explicitKubernetesProvider, "tls:index/privateKey:PrivateKey", {}, undefined), []));
    });

    describe("network-gateway-survives-a-drain", () => {
        const R = "kubernetes:helm.sh/v3:Release";
        it("passes the program's network gateways: two pods, a budget keeping one", async () =>
            assert.deepEqual(await violations(networkGatewaySurvivesADrain, R, { values: networkGatewayValues("network1") }), []));
        it("warns of one pod, and of pods without a budget", async () => {
            assert.deepEqual(await violations(networkGatewaySurvivesADrain, R, { values: networkGatewayValues("network1", "", { replicas: 1 }) }, "c", "gw"), [
                "network gateway gw runs 1 pod: a restart or node drain of it stops injection, xDS and cross-network traffic for every cluster behind it (set gateway.replicas to 2 or more)",
            ]);
            assert.equal((await violations(networkGatewaySurvivesADrain, R, { values: { networkGateway: "n", autoscaling: { minReplicas: 3 } } })).length, 1);
        });
        it("ignores other releases", async () => assert.deepEqual(await violations(networkGatewaySurvivesADrain, R, { values: { replicaCount: 1 } }), []));
    });

    describe("mtls-not-weakened", () => {
        it("passes STRICT", async () => assert.deepEqual(await violations(strictMtls, PA, { spec: { mtls: { mode: "STRICT" } } }), []));
        it("rejects PERMISSIVE, also per port", async () =>
            assert.deepEqual(await violations(strictMtls, PA, { spec: { mtls: { mode: "STRICT" }, portLevelMtls: { 8080: { mode: "PERMISSIVE" } } } }, "c", "pa"), [
                "PeerAuthentication pa sets mTLS PERMISSIVE; the mesh requires STRICT",
            ]));
        it("passes a DestinationRule using ISTIO_MUTUAL", async () => assert.deepEqual(await violations(strictMtls, DR, { spec: { trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } } } }), []));
        it("rejects a DestinationRule disabling TLS in a subset", async () =>
            assert.deepEqual(await violations(strictMtls, DR, { spec: { subsets: [{ name: "v1", trafficPolicy: { tls: { mode: "DISABLE" } } }] } }, "c", "dr"), [
                "DestinationRule dr disables TLS; traffic in the mesh must stay mTLS",
            ]));
    });

    describe("no-plaintext-secrets-in-configmaps", () => {
        const CM = "kubernetes:core/v1:ConfigMap";
        it("passes mesh networks", async () =>
            assert.deepEqual(await violations(noSecretsInConfigMaps, "kubernetes:core/v1:ConfigMapPatch", { data: { meshNetworks: "networks:\n  network1: {}\n" } }), []));
        it("rejects a private key", async () =>
            assert.deepEqual(await violations(noSecretsInConfigMaps, CM, { data: { "ca-key.pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE..." } }, "c", "cm"), [
                "ConfigMap cm key ca-key.pem holds a private key; use a Secret",
            ]));
        it("rejects a kubeconfig with a token", async () =>
            assert.deepEqual(await violations(noSecretsInConfigMaps, CM, { data: { config: "users:\n- name: u\n  user:\n    token: eyJhbGciOiJSUzI1NiIsImtpZCI6Ij" } }, "c", "cm"), [
                "ConfigMap cm key config holds a token; use a Secret",
            ]));
    });

    describe("remote-secret-as-istiod-expects", () => {
        const S = "kubernetes:core/v1:Secret";
        const good = {
            metadata: { name: "istio-remote-secret-cluster2", labels: { "istio/multiCluster": "true" }, annotations: { "networking.istio.io/cluster": "cluster2" } },
            stringData: { cluster2: "kubeconfig" },
        };
        it("passes what istioctl create-remote-secret makes", async () => assert.deepEqual(await violations(remoteSecretShape, S, good), []));
        it("rejects a missing label and a data key that is not the cluster", async () =>
            assert.deepEqual(
                await violations(remoteSecretShape, S, { ...good, metadata: { ...good.metadata, labels: {} }, stringData: { config: "kubeconfig" } }, "c", "rs"),
                ['remote secret rs: label istio/multiCluster must be "true"; its one data key must be the cluster name cluster2 (found config)'],
            ));
        it("ignores other Secrets", async () => assert.deepEqual(await violations(remoteSecretShape, S, { metadata: { name: "cacerts" }, stringData: { x: "y" } }), []));
    });

    it("passes every resource the program declares (three remotes)", async () => {
        useFixtureKubeconfig();
        const { resources } = await planProgram(stackConfig(3), { revealSecrets: true });
        const found: string[] = [];
        for (const policy of policies) {
            if (isStackPolicy(policy)) found.push(...(await stackViolations(policy, resources)));
            else for (const r of resources) found.push(...(await violations(policy, r.type, r.inputs, r.provider, r.name)));
        }
        assert.deepEqual(found, []);
    });

    describe("injection-resolves-to-an-installed-revision", () => {
        const NS = "kubernetes:core/v1:Namespace";
        const namespace = (name: string, labels: Record<string, string>, provider = "cluster2") => ({ type: NS, name, provider, inputs: { metadata: { name, labels } } });
        const withRevisions = async (istio: Record<string, unknown>, sample: Record<string, unknown> = {}) =>
            (await planProgram(stackConfig(1, { istio, sample }), { revealSecrets: true })).resources;

        it("passes the program's namespaces at every upgrade step, the sample pinned to a revision too", async () => {
            useFixtureKubeconfig();
            for (const [istio, sample] of [
                [{}, {}],
                [{ revisions: [{ version: "1.29.2" }, { version: "1.30.3" }], defaultRevision: "1-30-3", baseVersion: "1.30.3" }, {}],
                [{ revisions: [{ version: "1.29.2" }, { version: "1.30.3" }], defaultRevision: "1-30-3", baseVersion: "1.30.3" }, { revision: "1-29-2" }],
            ]) {
                assert.deepEqual(await stackViolations(injectionResolves, await withRevisions(istio, sample)), [], JSON.stringify([istio, sample]));
            }
        });

        it("rejects a namespace naming a revision its cluster does not install, and injection with no default", async () => {
            useFixtureKubeconfig();
            const resources = await withRevisions({ revisions: [{ version: "1.30.3" }] });
            assert.deepEqual(
                await stackViolations(injectionResolves, [
                    ...resources,
                    namespace("apps", { "istio.io/rev": "1-29-2" }),
                    namespace("tagged", { "istio.io/rev": "default" }),
                ]),
                ["namespace apps on cluster2 has istio.io/rev=1-29-2, a revision not installed there (1-30-3)"],
            );
            const noTag = resources.filter((r) => !r.name.endsWith("revision-tag-default"));
            assert.deepEqual(await stackViolations(injectionResolves, [...noTag, namespace("apps", { "istio-injection": "enabled" }, "cluster1")]), [
                "namespace sample on cluster1 has istio-injection=enabled, but no default revision is installed there",
                "namespace sample on cluster2 has istio-injection=enabled, but no default revision is installed there",
                "namespace apps on cluster1 has istio-injection=enabled, but no default revision is installed there",
            ]);
        });
    });
});
