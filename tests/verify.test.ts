import { strict as assert } from "node:assert";
import { type MeshApi, type Report, formatReport, parseHelloReply, tally, verdict, verifyMesh } from "../lib/verify";

/** A fake mesh: the client's answers cycle through `answers`; remote secrets and API servers as given. */
function fakeMesh(answers: string[], remotes: Record<string, { secret: boolean; answers: boolean }> = {}, pods = ["curl-5b549b49b8-mg7nl"]): MeshApi & { calls: string[][] } {
    let n = 0;
    const calls: string[][] = [];
    return {
        calls,
        findReadyPod: (cluster, namespace, selector, timeoutMs) =>
            pods.length > 0
                ? Promise.resolve(pods[0])
                : Promise.reject(new Error(`no ready pod ${selector} in namespace ${namespace} on ${cluster} after ${timeoutMs / 1000}s (none exists)`)),
        exec: (cluster, namespace, pod, container, command) => {
            calls.push([cluster, namespace, pod, container, ...command]);
            return Promise.resolve(answers[n++ % answers.length]);
        },
        readSecret: (_cluster, _namespace, name) => {
            const cluster = name.replace("istio-remote-secret-", "");
            return Promise.resolve(remotes[cluster]?.secret ? { [cluster]: `kubeconfig-of-${cluster}` } : undefined);
        },
        answers: (kubeconfig) => Promise.resolve(Object.entries(remotes).some(([c, r]) => kubeconfig === `kubeconfig-of-${c}` && r.answers)),
    };
}

const V1 = "Hello version: v1, instance: helloworld-v1-776f57d5f6-s7zfc\n";
const V2 = "Hello version: v2, instance: helloworld-v2-54df5f84b-9hxgw\n";
const options = { primary: "cluster1", remotes: ["cluster2"], namespace: "sample", expectedVersions: ["v1", "v2"], requests: 20 };

describe("verify", () => {
    it("parses helloworld's answer", () => {
        assert.deepEqual(parseHelloReply(V2), { version: "v2", instance: "helloworld-v2-54df5f84b-9hxgw" });
        assert.equal(parseHelloReply("upstream connect error or disconnect/reset before headers"), undefined);
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
        const seen = [{ cluster: "cluster2", secret: true, apiServer: true }];
        assert.deepEqual(verdict(both, 0, ["v1", "v2"], seen), { missingVersions: [], ok: true });
        assert.deepEqual(verdict(both.slice(0, 1), 0, ["v1", "v2"], seen).missingVersions, ["v2"]);
        assert.equal(verdict(both, 1, ["v1", "v2"], seen).ok, false);
        assert.equal(verdict(both, 0, ["v1", "v2"], [{ cluster: "cluster2", secret: true, apiServer: false }]).ok, false);
    });

    it("calls helloworld N times from the client on the primary through exec", async () => {
        const mesh = fakeMesh([V1, V2], { cluster2: { secret: true, answers: true } });
        const report = await verifyMesh(mesh, options);
        assert.equal(mesh.calls.length, 20);
        assert.deepEqual(mesh.calls[0], ["cluster1", "sample", "curl-5b549b49b8-mg7nl", "curl", "curl", "-sS", "--max-time", "5", "helloworld.sample:5000/hello"]);
        assert.equal(report.ok, true);
        assert.deepEqual(report.rows.map((r) => [r.version, r.count]), [["v1", 10], ["v2", 10]]);
    });

    it("fails when the remote's version never answers (the cross-network path is broken)", async () => {
        const report = await verifyMesh(fakeMesh([V1], { cluster2: { secret: true, answers: true } }), options);
        assert.equal(report.ok, false);
        assert.deepEqual(report.missingVersions, ["v2"]);
        assert.match(formatReport(report), /FAILED: no answer from v2/);
    });

    it("reports a remote istiod cannot see, without printing its kubeconfig", async () => {
        const report = await verifyMesh(fakeMesh([V1, V2], { cluster2: { secret: true, answers: false } }), options);
        assert.deepEqual(report.remotes, [{ cluster: "cluster2", secret: true, apiServer: false }]);
        const text = formatReport(report) + JSON.stringify(report);
        assert.match(text, /cluster2: remote secret present, API server does NOT answer/);
        assert.doesNotMatch(text, /kubeconfig-of/);
        const missing = await verifyMesh(fakeMesh([V1, V2]), options);
        assert.deepEqual(missing.remotes, [{ cluster: "cluster2", secret: false, apiServer: false }]);
    });

    it("says clearly when the client pod is missing", async () => {
        await assert.rejects(verifyMesh(fakeMesh([V1], {}, []), { ...options, timeoutMs: 5000 }), /no ready pod app=curl in namespace sample on cluster1 after 5s/);
    });

    it("prints a table of version, instance, count and share", () => {
        const report: Report = {
            requests: 4, rows: tally([parseHelloReply(V1), parseHelloReply(V2), parseHelloReply(V2), parseHelloReply(V1)]).rows, failed: 0,
            expectedVersions: ["v1", "v2"], missingVersions: [], remotes: [{ cluster: "cluster2", secret: true, apiServer: true }], ok: true,
        };
        assert.equal(formatReport(report), [
            "4 requests to helloworld from the client on the primary:",
            "  version  instance                        count  share",
            "  v1       helloworld-v1-776f57d5f6-s7zfc      2    50%",
            "  v2       helloworld-v2-54df5f84b-9hxgw       2    50%",
            "istiod on the primary and the remotes:",
            "  cluster2: remote secret present, API server answers with its token",
            "OK: every expected version (v1, v2) answered",
        ].join("\n"));
    });
});
