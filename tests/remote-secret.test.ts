import { strict as assert } from "node:assert";
import { KubeConfig } from "@kubernetes/client-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RemoteSecret, readerTokenData } from "../components/remote-secret";
import { type Plan, SECRET, runUnderMocks } from "../scripts/lib/plan";
import { provider } from "./fixtures";
import { at, named, outputOf } from "./support";

async function declareSecret(preview = false, tokenRotation?: string, otherWatchers: readonly string[] = []) {
    let secret: RemoteSecret | undefined;
    const plan: Plan = await runUnderMocks(
        () => {
            const remote = provider("cluster2");
            const base = new k8s.helm.v3.Release("cluster2-base", { chart: "base" }, { provider: remote });
            const istiod = new k8s.helm.v3.Release("cluster2-istiod", { chart: "istiod" }, { provider: remote });
            secret = new RemoteSecret(
                "cluster2-remote-secret",
                {
                    clusterName: "cluster2",
                    apiServer: "https://172.18.0.3:6443",
                    remoteProvider: remote,
                    remoteNamespace: "istio-system",
                    readerReady: [base, istiod],
                    tokenRotation,
                    watchers: [
                        { clusterName: "cluster1", provider: provider("cluster1"), namespace: pulumi.output("istio-system"), own: true },
                        ...otherWatchers.map((w) => ({ clusterName: w, provider: provider(w), namespace: pulumi.output("istio-system") })),
                    ],
                },
                { provider: provider("cluster1") },
            );
        },
        { preview },
    );
    return { plan, secret: secret as RemoteSecret };
}

describe("RemoteSecret", () => {
    it("mints a token for istio-reader-service-account on the remote, once both charts gave the reader its account and permissions", async () => {
        const { plan } = await declareSecret();
        const token = named(plan.resources, "cluster2-remote-secret-reader-token");
        assert.equal(token.provider, "cluster2");
        assert.equal(token.inputs.type, "kubernetes.io/service-account-token");
        assert.deepEqual((token.inputs.metadata as { annotations: unknown }).annotations, {
            "kubernetes.io/service-account.name": "istio-reader-service-account",
        });
        // base creates the service account; the remote istiod release its ClusterRole/Binding.
        assert.ok(token.dependencies.includes(named(plan.resources, "cluster2-base").urn));
        assert.ok(token.dependencies.includes(named(plan.resources, "cluster2-istiod").urn));
    });

    it("rotates the token with no window without a valid one: the new token is created, then written into the remote secret, before the old one goes", async () => {
        const { plan } = await declareSecret(false, "2026-11");
        const token = named(plan.resources, "cluster2-remote-secret-reader-token");
        const secret = named(plan.resources, "cluster2-remote-secret-secret-cluster1");
        // Auto-named: a replacement never collides with the old token, so Pulumi creates it first...
        assert.equal((token.inputs.metadata as { name?: string }).name, undefined);
        assert.equal(token.deleteBeforeReplace, false);
        // ...and the config value that triggers it is part of the token, as a replace-on-change annotation.
        assert.equal(at(token.inputs, "metadata.annotations")?.["istio-multicluster/token-rotation" as never], "2026-11");
        assert.deepEqual(token.replaceOnChanges, ['metadata.annotations["istio-multicluster/token-rotation"]']);
        // The remote secret is updated from the new token's data (same name: an update, not a replace).
        assert.ok(secret.dependencies.includes(token.urn));
        assert.equal(secret.deleteBeforeReplace, false);
    });

    it("says what to do when the token controller had not filled the token in time", () => {
        assert.throws(() => readerTokenData({}, "cluster2"), /reader token of cluster2 has no token yet.*pulumi up --refresh/);
        assert.deepEqual(readerTokenData({ token: Buffer.from("t").toString("base64"), "ca.crt": "Q0E=" }, "cluster2"), { caData: "Q0E=", token: "t" });
    });

    it("stores on the primary the Secret istiod watches, as istioctl create-remote-secret makes it", async () => {
        const { plan } = await declareSecret();
        const secret = named(plan.resources, "cluster2-remote-secret-secret-cluster1");
        assert.equal(secret.provider, "cluster1");
        assert.deepEqual(secret.inputs.metadata, {
            name: "istio-remote-secret-cluster2",
            namespace: "istio-system",
            labels: { "istio/multiCluster": "true" },
            annotations: { "networking.istio.io/cluster": "cluster2" },
        });
        // One data key, the cluster name, holding a secret.
        assert.deepEqual(secret.inputs.stringData, { cluster2: SECRET });
        assert.ok(secret.dependencies.includes(named(plan.resources, "cluster2-remote-secret-reader-token").urn));
    });

    it("builds the kubeconfig from the API server, the token and its CA, and keeps it secret", async () => {
        const { secret } = await declareSecret();
        assert.ok(await pulumi.isSecret(secret.kubeconfig));
        const kc = new KubeConfig();
        kc.loadFromString(await outputOf(secret.kubeconfig));
        assert.equal(kc.getCluster("cluster2")?.server, "https://172.18.0.3:6443");
        assert.equal(kc.getUser("cluster2")?.token, "reader-token-of-cluster2");
        assert.equal(Buffer.from(kc.getCluster("cluster2")?.caData ?? "", "base64").toString(), "api-server-ca-of-cluster2");
    });

    it("previews before the token exists", async () => {
        const { plan } = await declareSecret(true);
        // The kubeconfig is unknown until the token exists, and already secret.
        const secret = named(plan.resources, "cluster2-remote-secret-secret-cluster1");
        assert.deepEqual(secret.secretInputs, ["stringData"]);
        assert.equal(secret.inputs.stringData, SECRET);
    });

    it("stores the Secret on every watching primary from one reader token, the own primary's under the name it always had", async () => {
        const { plan } = await declareSecret(false, undefined, ["cluster3"]);
        const own = named(plan.resources, "cluster2-remote-secret-secret-cluster1");
        const other = named(plan.resources, "cluster2-remote-secret-secret-cluster3");
        assert.deepEqual([own.provider, other.provider], ["cluster1", "cluster3"]);
        assert.deepEqual(other.inputs.metadata, own.inputs.metadata);
        const token = named(plan.resources, "cluster2-remote-secret-reader-token");
        assert.ok([own, other].every((s) => s.dependencies.includes(token.urn)), "each Secret holds the one token");
        assert.equal(plan.resources.filter((r) => r.name.endsWith("-reader-token")).length, 1);
    });
});
