/**
 * `npm run demo` where there is no Docker: the mesh on the simulated environment (one primary, one
 * remote, the page's topology), with the real engine, provider, charts and istiod, then the page's
 * proof on it — istiod's split-horizon answer to a sidecar of cluster1, then requests from the curl pod
 * answered by v1 and by v2 through cluster2's gateway. Runs inside the environment's network namespace.
 */
import { strict as assert } from "node:assert";
import { gatewayAddress, istiodAddress, istiodClusters, samplePods, xdsEndpoints } from "./checks";
import { startInside } from "./environment";
import { gatewayConnections, requestsFrom, tally } from "./data-plane";
import { eventually } from "./eventually";
import { policyPackLauncher, simStack } from "./pulumi";
import { type SimState, readState } from "./state";

/** The proof on the simulated environment, as lines for a person; `ok` when istiod routes and both versions answer as the page says. */
export async function simulatedProof(state: SimState): Promise<{ ok: boolean; lines: string[] }> {
    const [primary, remote] = state.clusters;
    const lines = ["The page's proof on the simulated environment (real istiod and pilot-agents; Envoy's part played by a stand-in driven by their xDS):"];
    try {
        const istiod = await eventually(() => istiodAddress(state), 60_000);
        const clusters = await eventually(async () => {
            const seen = await istiodClusters(istiod);
            assert.equal(seen[remote.name], "synced");
            return seen;
        }, 120_000);
        lines.push(`  istiod on ${primary.name} watches: ${Object.entries(clusters).map(([id, s]) => `${id} ${s}`).join(", ")}`);
        const v1 = (await samplePods(state, primary)).find((p) => p.app === "helloworld" && p.version === "v1")?.ip;
        const v2 = (await samplePods(state, remote)).find((p) => p.app === "helloworld" && p.version === "v2")?.ip;
        const gateway = await gatewayAddress(state, remote);
        const expected = [`${v1}:5000`, `${gateway}:15443`].sort();
        const endpoints = await eventually(() => {
            const seen = xdsEndpoints(state, istiod, primary);
            assert.deepEqual(seen, expected);
            return seen;
        }, 60_000);
        lines.push(`  what istiod tells a sidecar on ${primary.name} (${primary.network}) for helloworld.sample:5000:`);
        for (const e of endpoints) {
            lines.push(
                e === `${v1}:5000`
                    ? `    ${e.padEnd(22)} helloworld v1, the pod next to the client (same network: direct)`
                    : `    ${e.padEnd(22)} ${remote.name}'s network gateway: helloworld v2 (pod ${v2}) on ${remote.network}, reached by SNI on 15443`,
            );
        }
        const answers = await eventually(async () => {
            const t = tally(await requestsFrom(state, primary, 10));
            assert.equal(t.failed, 0, `${t.failed} of ${t.sent} requests failed`);
            assert.ok(t.byVersion.v1 && t.byVersion.v2, "both versions answer");
            return t;
        }, 90_000);
        lines.push(`  10 requests from the curl pod on ${primary.name} to helloworld.sample:5000/hello:`);
        for (const [cluster, n] of Object.entries(answers.byCluster)) lines.push(`    ${String(n).padStart(2)} answered by ${cluster === primary.name ? "v1" : "v2"} on ${cluster}`);
        lines.push(`    each server's sidecar saw the client as ${Object.keys(answers.byPeer).join(", ")}; ${remote.name}'s gateway passed ${Object.values(gatewayConnections(state, remote)).reduce((a, b) => a + b, 0)} connection(s) through`);
        lines.push(`OK: v1 directly, v2 through ${remote.name}'s gateway, no pod address of another network (split-horizon EDS), mTLS end to end`);
        return { ok: true, lines };
    } catch (e) {
        lines.push(`NOT OK: ${e instanceof Error ? e.message : String(e)} (logs: .sim/logs)`);
        return { ok: false, lines };
    }
}

/** Inside the namespace: the environment (kept if it runs), `pulumi up` of stack `sim`, the proof. */
export async function demoUp(binDir: string): Promise<number> {
    const state = await startInside(binDir, 1);
    const stack = await simStack(state);
    const onOutput = (out: string) => process.stdout.write(out);
    const up = await stack.up({ onOutput, policyPacks: [policyPackLauncher(state)] });
    console.log(`\npulumi up: ${up.summary.result}; gateway addresses ${JSON.stringify(up.outputs.gatewayAddresses?.value)}\n`);
    const proof = await simulatedProof(state);
    console.log(proof.lines.join("\n"));
    console.log(
        [
            "",
            "What this is: the program's own `pulumi up` (engine, Kubernetes provider, Istio's charts, istiod and",
            "pilot-agent built from their Go modules) against real API servers whose nodes kwok simulates; pods run",
            "as processes in network namespaces of their own, and where Envoy would act a small stand-in does what",
            "their xDS says (sim/envoy). With Docker and kind, `npm run demo` runs the same mesh with real Envoy.",
            "The same report as on kind: npm run verify -- --stack sim",
            "Look around: npm run sim -- status. Take it down: npm run demo -- --destroy",
        ].join("\n"),
    );
    return proof.ok ? 0 : 1;
}

/** Inside the namespace: `pulumi destroy` of stack `sim` (the environment goes afterwards, outside). */
export async function demoDestroy(): Promise<number> {
    const stack = await simStack(readState());
    await stack.destroy({ onOutput: (out: string) => process.stdout.write(out) });
    return 0;
}
