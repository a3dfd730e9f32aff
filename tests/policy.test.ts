import { strict as assert } from "node:assert";
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { planProgram } from "../scripts/lib/plan";
import { explicitKubernetesProvider, noSecretsInConfigMaps, policies, remoteSecretShape, strictMtls } from "../policy/rules";
import { stackConfig, useFixtureKubeconfig } from "./support";

/** The violations a policy reports for one resource. */
async function violations(policy: ResourceValidationPolicy, type: string, props: Record<string, unknown>, provider: string | undefined = "cluster1", name = "r"): Promise<string[]> {
    const found: string[] = [];
    const args = { type, props, name, urn: `urn:pulumi:test::p::${type}::${name}`, provider: provider ? { name: provider } : undefined } as unknown as ResourceValidationArgs;
    const validate = policy.validateResource;
    for (const v of Array.isArray(validate) ? validate : validate ? [validate] : []) await v(args, (message) => found.push(message ?? ""));
    return found;
}

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
        for (const r of resources) {
            for (const policy of policies) found.push(...(await violations(policy, r.type, r.inputs, r.provider, r.name)));
        }
        assert.deepEqual(found, []);
    });
});
