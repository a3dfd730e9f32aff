import { strict as assert } from "node:assert";
import { API_SERVER_CHECK, type MeshApi, type Report, formatReport, parseHelloReply, remoteCredentials, tally, verdict, verifyMesh } from "../scripts/lib/verify";
import { remoteSecretKubeconfig } from "../lib/istio-values";

/** A remote secret's kubeconfig as the program writes it; the fake API server accepts `good-token`. */
const kubeconfigOf = (cluster: string, token: string) =>
    remoteSecretKubeconfig({ clusterName: cluster, server: `https://${cluster}.example:6443`, caData: Buffer.from(`CA of ${cluster}`).toString("base64"), token });

/**
 * A fake mesh: the client's answers cycle through `answers` after `failFirst` calls that get no answer;
 * remote secrets as given; the remotes' API servers answer the check (run in the client pod) when
 * it brings the remote's own CA and the token `good-token`.
 */
function fakeMesh(
    answers: string[],
    remotes: Record<string, { secret: boolean; answers: boolean }> = {},
    pods = ["curl-5b549b49b8-mg7nl"],
    failFirst = 0,
): MeshApi & { calls: string[][]; stdins: (string | undefined)[] } {
    let n = 0;
    const calls: string[][] = [];
    const stdins: (string | undefined)[] = [];
    return {
        calls,
        stdins,
        findReadyPod: (cluster, namespace, selector, timeoutMs) =>
            pods.length > 0
                ? Promise.resolve(pods[0])
                : Promise.reject(new Error(`no ready pod ${selector} in namespace ${namespace} on ${cluster} after ${timeoutMs / 1000}s (none exists)`)),
        exec: (cluster, namespace, pod, container, command, stdin) => {
            calls.push([cluster, namespace, pod, container, ...command]);
            stdins.push(stdin);
            if (command[0] === "sh") {
                const server = command[command.length - 1];
                const remote = /^https:\/\/(\w+)\.example:6443$/.exec(server)?.[1] ?? "";
                const [token, ...ca] = (stdin ?? "").split("\n");
                return Promise.resolve(token === "good-token" && ca.join("\n") === `CA of ${remote}` ? "200" : "401");
            }
            return n++ < failFirst ? Promise.reject(new Error("connection refused")) : Promise.resolve(answers[(n - 1 - failFirst) % answers.length]);
        },
        dryRunPod: () => Promise.resolve(undefined),
        readSecret: (_cluster, _namespace, name) => {
            const cluster = name.replace("istio-remote-secret-", "");
            const r = remotes[cluster];
            return Promise.resolve(r?.secret ? { [cluster]: kubeconfigOf(cluster, r.answers ? "good-token" : "revoked-token") } : undefined);
        },
    };
}

const V1 = "Hello version: v1, instance: helloworld-v1-776f57d5f6-s7zfc\n";
const V2 = "Hello version: v2, instance: helloworld-v2-54df5f84b-9hxgw\n";
const options = { primary: "cluster1", remotes: ["cluster2"], namespace: "sample", expectedVersions: ["v1", "v2"], requests: 20, warmupPollMs: 0 };
const helloCalls = (calls: string[][]) => calls.filter((c) => c[4] === "curl");

describe("verify", () => {
    it("names the cluster, the port and where from when an API server cannot reach istiod's injection webhook (a private control plane)", async () => {
        const api = fakeMesh([V1, V2], { cluster2: { secret: true, answers: true } });
        const timeout = 'Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": Post "https://istiod.istio-system.svc:443/inject": context deadline exceeded';
        api.dryRunPod = (cluster) => Promise.resolve(cluster === "cluster1" ? timeout : undefined);
        await assert.rejects(verifyMesh(api, options), (e: Error) => {
            assert.equal(
                e.message,
                "sidecar injection cannot work:\n  cluster1: its API server cannot call istiod's sidecar-injection webhook on port 15017 (from cluster1's control plane to istiod's pods on cluster1): " +
                    `${timeout}. On a private GKE cluster, allow the control plane's range to reach the nodes on TCP 15017 (docs/real-clusters.md, "Private control planes").`,
            );
            return true;
        });
        // Another refusal (RBAC, quota) is not a webhook the control plane cannot reach.
        api.dryRunPod = () => Promise.resolve('pods is forbidden: User "ci" cannot create resource "pods"');
        assert.equal((await verifyMesh(api, options)).ok, true);
    });

    it("parses helloworld's answer", () => {
        assert.deepEqual(parseHelloReply(V2), { version: "v2", instance: "helloworld-v2-54df5f84b-9hxgw" });
        assert.equal(parseHelloReply("upstream connect error or disconnect/reset before headers"), undefined);
    });

    it("parses the answer of Istio's echo server (helloworld's stand-in on the simulated environment): version, instance, serving cluster, peer identity", () => {
        const echo = [
            "ServiceVersion=v2",
            "ServicePort=5000",
            "Host=helloworld.sample:5000",
            "Cluster=cluster2",
            "RequestHeader=X-Forwarded-Client-Cert:By=spiffe://cluster.local/ns/sample/sa/default;URI=spiffe://cluster.local/ns/sample/sa/curl",
            "Hostname=helloworld-v2-7c8fd95b4-8dhvx",
        ].join("\n");
        const reply = parseHelloReply(echo);
        assert.deepEqual(reply, { version: "v2", instance: "helloworld-v2-7c8fd95b4-8dhvx", cluster: "cluster2", peer: "spiffe://cluster.local/ns/sample/sa/curl" });
        const report = {
            requests: 1, warmupRequests: 0, rows: tally([reply]).rows, failed: 0, expectedVersions: ["v2"], missingVersions: [], remotes: [], ok: true,
        };
        assert.match(formatReport(report), /v2\s+helloworld-v2-7c8fd95b4-8dhvx\s+1\s+100%\s+cluster2\s+spiffe:\/\/cluster\.local\/ns\/sample\/sa\/curl/);
        assert.equal(parseHelloReply("ServiceVersion=v2\n"), undefined, "no instance: not an answer to count");
    });

    it("tallies versions and instances, most first, with their share of all requests", () => {
        const { rows, failed } = tally([parseHelloReply(V1), parseHelloReply(V2), parseHelloReply(V2), undefined]);
        assert.deepEqual(rows, [
            { version: "v2", instance: "helloworld-v2-54df5f84b-9hxgw", count: 2, share: 0.5 },
            { version: "v1", instance: "helloworld-v1-776f57d5f6-s7zfc", count: 1, share: 0.25 },
        ]);
        assert.equal(failed, 1);
    });

    it("passes only when every expected version answered, no request failed and istiod sees every remote", () => {
        const both = tally([parseHelloReply(V1), parseHelloReply(V2)]).rows;
        const seen = [{ cluster: "cluster2", watcher: "cluster1", secret: true, apiServer: true }];
        assert.deepEqual(verdict(both, 0, ["v1", "v2"], seen), { missingVersions: [], ok: true });
        assert.deepEqual(verdict(both.slice(0, 1), 0, ["v1", "v2"], seen).missingVersions, ["v2"]);
        assert.equal(verdict(both, 1, ["v1", "v2"], seen).ok, false);
        assert.equal(verdict(both, 0, ["v1", "v2"], [{ cluster: "cluster2", watcher: "cluster1", secret: true, apiServer: false }]).ok, false);
    });

    it("calls helloworld N times from the client on the primary through exec", async () => {
        const mesh = fakeMesh([V1, V2], { cluster2: { secret: true, answers: true } });
        const report = await verifyMesh(mesh, options);
        // Two warm-up calls (v1, then v2 answered), then the 20 counted.
        assert.equal(report.warmupRequests, 2);
        assert.equal(helloCalls(mesh.calls).length, 22);
        assert.deepEqual(mesh.calls[0], ["cluster1", "sample", "curl-5b549b49b8-mg7nl", "curl", "curl", "-sS", "--max-time", "5", "helloworld.sample:5000/hello"]);
        assert.equal(report.ok, true);
        assert.deepEqual(report.rows.map((r) => [r.version, r.count]), [["v1", 10], ["v2", 10]]);
    });

    it("warms up before counting: failures right after pulumi up are not counted, within a bounded window", async () => {
        const report = await verifyMesh(fakeMesh([V1, V2], { cluster2: { secret: true, answers: true } }, undefined, 5), options);
        assert.equal(report.warmupRequests, 7);
        assert.equal(report.failed, 0);
        assert.equal(report.ok, true);
        assert.match(formatReport(report), /after 7 warm-up call\(s\)/);
    });

    it("fails when the remote's version never answers (the cross-network path is broken), once the warm-up window is over", async () => {
        const report = await verifyMesh(fakeMesh([V1], { cluster2: { secret: true, answers: true } }), { ...options, warmupMs: 20 });
        assert.equal(report.ok, false);
        assert.deepEqual(report.missingVersions, ["v2"]);
        assert.match(formatReport(report), /FAILED: no answer from v2/);
    });

    it("checks each remote secret from the client pod on the primary (where istiod is), token and CA through stdin only", async () => {
        const mesh = fakeMesh([V1, V2], { cluster2: { secret: true, answers: true } });
        await verifyMesh(mesh, options);
        const check = mesh.calls.findIndex((c) => c[4] === "sh");
        assert.deepEqual(mesh.calls[check], ["cluster1", "sample", "curl-5b549b49b8-mg7nl", "curl", ...API_SERVER_CHECK, "https://cluster2.example:6443"]);
        assert.ok(!mesh.calls[check].join(" ").includes("good-token"));
        assert.equal(mesh.stdins[check], "good-token\nCA of cluster2");
        assert.deepEqual(remoteCredentials("not a kubeconfig"), undefined);
    });

    it("reports a remote istiod cannot see, without printing its kubeconfig", async () => {
        const report = await verifyMesh(fakeMesh([V1, V2], { cluster2: { secret: true, answers: false } }), options);
        assert.deepEqual(report.remotes, [{ cluster: "cluster2", watcher: "cluster1", secret: true, apiServer: false }]);
        const text = formatReport(report) + JSON.stringify(report);
        assert.match(text, /cluster2: remote secret present, API server does NOT answer/);
        assert.doesNotMatch(text, /revoked-token|BEGIN|CA of/);
        const missing = await verifyMesh(fakeMesh([V1, V2]), options);
        assert.deepEqual(missing.remotes, [{ cluster: "cluster2", watcher: "cluster1", secret: false, apiServer: false }]);
    });

    it("with several primaries, checks that each istiod watches every other cluster (the API server from the client's primary)", async () => {
        const mesh = fakeMesh([V1, V2], { cluster2: { secret: true, answers: true }, cluster3: { secret: true, answers: true }, cluster1: { secret: true, answers: true } });
        const report = await verifyMesh(mesh, { ...options, primaries: ["cluster1", "cluster3"], primaryOf: { cluster2: "cluster1" } });
        assert.deepEqual(
            report.remotes.map((r) => `${r.watcher}>${r.cluster} ${r.secret} ${r.apiServer}`),
            ["cluster1>cluster3 true true", "cluster1>cluster2 true true", "cluster3>cluster1 true undefined", "cluster3>cluster2 true undefined"],
        );
        assert.equal(report.ok, true);
        assert.match(formatReport(report), /cluster3 watches cluster1: remote secret present, API server not asked from here/);
    });

    it("says clearly when the client pod is missing", async () => {
        await assert.rejects(verifyMesh(fakeMesh([V1], {}, []), { ...options, timeoutMs: 5000 }), /no ready pod app=curl in namespace sample on cluster1 after 5s/);
    });

    it("prints a table of version, instance, count and share", () => {
        const report: Report = {
            requests: 4, warmupRequests: 1, rows: tally([parseHelloReply(V1), parseHelloReply(V2), parseHelloReply(V2), parseHelloReply(V1)]).rows, failed: 0,
            expectedVersions: ["v1", "v2"], missingVersions: [], remotes: [{ cluster: "cluster2", watcher: "cluster1", secret: true, apiServer: true }], ok: true,
        };
        assert.equal(formatReport(report), [
            "4 requests to helloworld from the client on the primary (after 1 warm-up call(s)):",
            "  version  instance                        count  share",
            "  v1       helloworld-v1-776f57d5f6-s7zfc      2    50%",
            "  v2       helloworld-v2-54df5f84b-9hxgw       2    50%",
            "istiod on the primary and the remotes:",
            "  cluster2: remote secret present, API server answers with its token",
            "OK: every expected version (v1, v2) answered",
        ].join("\n"));
    });
});
