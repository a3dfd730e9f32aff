import { strict as assert } from "node:assert";
import { type Plan, type PlannedResource, longestChain, planProgram } from "../scripts/lib/plan";
import { byUrn, planDiff, stackConfig, useFixtureKubeconfig } from "./support";

/** What a resource is, whatever cluster it belongs to: its name without the cluster prefix. */
const role = (r: PlannedResource) => (r.provider ? r.name.replace(/^cluster\d+-/, "") : r.name);

/** Dependencies between resources of two different clusters, as "dependent role -> dependency role". */
function crossClusterEdges(plan: Plan): Set<string> {
    const index = byUrn(plan);
    const edges = new Set<string>();
    for (const r of plan.resources) {
        for (const urn of r.dependencies) {
            const d = index.get(urn);
            if (r.provider && d?.provider && d.type !== "pulumi:providers:kubernetes" && d.provider !== r.provider) {
                edges.add(`${role(r)} -> ${role(d)}`);
            }
        }
    }
    return edges;
}

describe("the plan as data", () => {
    const plans = new Map<number, Awaited<ReturnType<typeof planProgram>>>();
    before(async () => {
        useFixtureKubeconfig();
        for (const remotes of [1, 2, 3]) plans.set(remotes, await planProgram(stackConfig(remotes)));
    });
    const plan = (remotes: number) => plans.get(remotes) as Plan;

    it("has a longest dependency chain that does not grow with the number of remotes", () => {
        const lengths = [1, 2, 3].map((n) => longestChain(plan(n)));
        assert.ok(lengths[0] >= 8, `a chain of ${lengths[0]} is shorter than the install order`);
        assert.deepEqual(lengths, [lengths[0], lengths[0], lengths[0]]);
    });

    it("crosses clusters only through the values the topology needs", () => {
        assert.deepEqual([...crossClusterEdges(plan(3))].sort(), [
            // The primary's mesh networks wait for each remote gateway's address (read after its release).
            "cluster-aware-routing-mesh-networks -> network-gateway-service",
            // A remote's istiod gets the primary's gateway address, once istiod is exposed there.
            "istiod -> istiod-gateway",
            "istiod -> istiod-vs",
            "istiod -> network-gateway-service",
            // A remote's gateway waits until the primary has its remote secret.
            "network-gateway -> remote-secret-secret-cluster1",
            // The remote secret holds the remote's reader token.
            "remote-secret-secret-cluster1 -> remote-secret-reader-token",
            // The sample on a remote waits until the primary knows the remote (injection works then).
            "sample-helloworld-v2 -> remote-secret-secret-cluster1",
        ]);
    });

    const cluster4 = (names: string[]) => names.every((n) => n === "cluster4" || n.startsWith("cluster4-") || n.startsWith("mesh-ca-cluster4-"));

    it("adds a remote's own resources and changes only the primary's mesh networks", () => {
        const { added, changed, removed } = planDiff(plan(2), plan(3));
        assert.deepEqual(removed, []);
        assert.ok(cluster4(added), added.join(", "));
        assert.ok(added.includes("cluster4-remote-secret-secret-cluster1") && added.includes("cluster4-network-gateway"));
        assert.deepEqual(changed, ["cluster1-cluster-aware-routing-mesh-networks"]);
    });

    it("removes exactly that remote's resources", () => {
        const { added, changed, removed } = planDiff(plan(3), plan(2));
        assert.deepEqual(added, []);
        assert.ok(cluster4(removed) && removed.length === plan(3).resources.length - plan(2).resources.length, removed.join(", "));
        assert.deepEqual(changed, ["cluster1-cluster-aware-routing-mesh-networks"]);
    });
});
