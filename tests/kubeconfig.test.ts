import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { mergeKubeconfigs, parseKubeconfig, singleContext } from "../lib/kubeconfig";
import { planProgram } from "../scripts/lib/plan";
import { ofType, stackConfig, tempDir } from "./support";

/** A kubeconfig as users have them: an EKS exec user, a token file, CA files, a proxy and a TLS server name. */
function userKubeconfig(secondToken = "token-of-cluster2"): string {
    return YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        preferences: { colors: true },
        clusters: [
            {
                name: "eks-east",
                cluster: {
                    server: "https://ABC.gr7.us-east-1.eks.amazonaws.com",
                    "certificate-authority": "certs/east-ca.crt",
                    "proxy-url": "http://proxy.corp.example:3128",
                    "tls-server-name": "kubernetes.default.svc",
                    extensions: [{ name: "client.authentication.k8s.io/exec", extension: { audience: "east" } }],
                },
            },
            { name: "kind-cluster2", cluster: { server: "https://172.18.0.3:6443", "certificate-authority-data": "Q0EgZGF0YQ==" } },
            { name: "unused", cluster: { server: "https://10.0.0.9:6443" } },
        ],
        users: [
            {
                name: "eks-east-user",
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "aws",
                        args: ["eks", "get-token", "--cluster-name", "east", "--region", "us-east-1"],
                        env: [{ name: "AWS_PROFILE", value: "prod" }],
                        interactiveMode: "Never",
                        provideClusterInfo: true,
                    },
                },
            },
            { name: "kind-cluster2", user: { tokenFile: "tokens/cluster2", "client-certificate": "/abs/client.crt", token: secondToken } },
            { name: "unused", user: { token: "never-to-be-seen" } },
        ],
        contexts: [
            { name: "east", context: { cluster: "eks-east", user: "eks-east-user", namespace: "istio-system" } },
            { name: "kind-cluster2", context: { cluster: "kind-cluster2", user: "kind-cluster2" } },
            { name: "unused", context: { cluster: "unused", user: "unused" } },
        ],
        "current-context": "east",
    });
}

describe("each cluster's kubeconfig", () => {
    const dir = tempDir("kubeconfig-");
    const file = path.join(dir, "config");
    let saved: string | undefined;
    before(() => {
        saved = process.env.KUBECONFIG;
        fs.writeFileSync(file, userKubeconfig());
        process.env.KUBECONFIG = file;
    });
    after(() => {
        process.env.KUBECONFIG = saved;
    });

    it("holds only its own context, cluster and user, with every field kubectl honours, and paths made absolute", () => {
        const one = singleContext(mergeKubeconfigs([parseKubeconfig(userKubeconfig(), dir)]), "east");
        assert.ok(one);
        assert.equal(one.server, "https://ABC.gr7.us-east-1.eks.amazonaws.com");
        const kc = JSON.parse(one.kubeconfig) as Record<string, unknown>;
        assert.deepEqual(kc, {
            apiVersion: "v1",
            kind: "Config",
            clusters: [
                {
                    name: "eks-east",
                    cluster: {
                        server: "https://ABC.gr7.us-east-1.eks.amazonaws.com",
                        "certificate-authority": path.join(dir, "certs/east-ca.crt"),
                        "proxy-url": "http://proxy.corp.example:3128",
                        "tls-server-name": "kubernetes.default.svc",
                        extensions: [{ name: "client.authentication.k8s.io/exec", extension: { audience: "east" } }],
                    },
                },
            ],
            users: [
                {
                    name: "eks-east-user",
                    user: {
                        exec: {
                            apiVersion: "client.authentication.k8s.io/v1beta1",
                            command: "aws", // a bare command is looked up on PATH, as kubectl does
                            args: ["eks", "get-token", "--cluster-name", "east", "--region", "us-east-1"],
                            env: [{ name: "AWS_PROFILE", value: "prod" }],
                            interactiveMode: "Never",
                            provideClusterInfo: true,
                        },
                    },
                },
            ],
            contexts: [{ name: "east", context: { cluster: "eks-east", user: "eks-east-user", namespace: "istio-system" } }],
            "current-context": "east",
        });
        const second = JSON.parse(singleContext(mergeKubeconfigs([parseKubeconfig(userKubeconfig(), dir)]), "kind-cluster2")?.kubeconfig ?? "{}") as {
            users: { user: Record<string, string> }[];
        };
        assert.deepEqual(second.users[0].user, { tokenFile: path.join(dir, "tokens/cluster2"), "client-certificate": "/abs/client.crt", token: "token-of-cluster2" });
    });

    it("is what each cluster's provider receives, and an edit to another context changes no other provider's inputs", async () => {
        const config = () =>
            stackConfig(0, {
                primary: { name: "cluster1", network: "network1", context: "east", apiServer: "https://203.0.113.1:443" },
                remotes: [{ name: "cluster2", network: "network2", context: "kind-cluster2" }],
            });
        const providers = async () =>
            Object.fromEntries(
                ofType((await planProgram(config(), { revealSecrets: true })).resources, "pulumi:providers:kubernetes").map((p) => [
                    p.name,
                    p.inputs,
                ]),
            );
        const before = await providers();
        const kubeconfigOf = (name: string) => JSON.parse(String(before[name].kubeconfig)) as { contexts: { name: string }[]; users: { name: string }[] };
        assert.deepEqual(kubeconfigOf("cluster1").contexts.map((c) => c.name), ["east"]);
        assert.deepEqual(kubeconfigOf("cluster2").users.map((u) => u.name), ["kind-cluster2"]);
        for (const p of Object.values(before)) assert.ok(!String(p.kubeconfig).includes("never-to-be-seen"), "no unrelated credential");
        assert.ok(!String(before.cluster1.kubeconfig).includes("token-of-cluster2"), "no other cluster's credential");

        // The user rotates cluster2's token in ~/.kube/config: only cluster2's provider changes.
        fs.writeFileSync(file, userKubeconfig("rotated-token-of-cluster2"));
        const after = await providers();
        assert.deepEqual(after.cluster1, before.cluster1);
        assert.notDeepEqual(after.cluster2, before.cluster2);
    });

    it("merges KUBECONFIG's files as kubectl does: the first file to name an entry wins", () => {
        const other = parseKubeconfig(
            YAML.stringify({
                clusters: [{ name: "kind-cluster2", cluster: { server: "https://shadowed:6443" } }],
                contexts: [{ name: "only-here", context: { cluster: "kind-cluster2", user: "kind-cluster2" } }],
                "current-context": "only-here",
            }),
            "/elsewhere",
        );
        const merged = mergeKubeconfigs([parseKubeconfig(userKubeconfig(), dir), other]);
        assert.equal(merged.currentContext, "east");
        assert.deepEqual(merged.contextNames, ["east", "kind-cluster2", "unused", "only-here"]);
        assert.equal(singleContext(merged, "only-here")?.server, "https://172.18.0.3:6443");
        assert.equal(singleContext(merged, "nowhere"), undefined);
    });

    it("never quotes a kubeconfig that does not parse", () => {
        assert.throws(() => parseKubeconfig("users:\n- name: u\n  user: {token: s3cr3t\n"), (e: Error) => !e.message.includes("s3cr3t"));
    });
});
