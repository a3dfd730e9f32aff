import { strict as assert } from "node:assert";
import { planProgram } from "../scripts/lib/plan";
import { clusterTables, meshClusters, meshDiagram } from "../scripts/lib/plan-view";
import { mixedConfig, stackConfig, useFixtureKubeconfig } from "./support";

describe("the plan view", () => {
    let plan: Awaited<ReturnType<typeof planProgram>>;
    before(async () => {
        useFixtureKubeconfig();
        plan = await planProgram(stackConfig(2), { preview: true });
    });

    it("finds the clusters, their networks and the primary in the plan", () => {
        assert.deepEqual(meshClusters(plan), [
            { name: "cluster1", network: "network1", primary: true },
            { name: "cluster2", network: "network2", primary: false, controlPlane: "cluster1" },
            { name: "cluster3", network: "network3", primary: false, controlPlane: "cluster1" },
        ]);
    });

    it("tabulates each cluster's resources and what they wait for, marking other clusters", () => {
        const tables = clusterTables(plan);
        assert.deepEqual(tables.match(/^## .*/gm), ["## cluster1", "## cluster2", "## cluster3"]);
        assert.match(tables, /^cluster3-network-gateway +helm release +.*cluster3-remote-secret-secret-cluster1 @cluster1/m);
        assert.match(tables, /^cluster1-istiod +helm release +cluster1-cacerts, cluster1-base/m);
    });

    it("draws every cluster, the path to istiod and the cross-network paths", () => {
        const diagram = meshDiagram(plan);
        assert.match(diagram, /^flowchart LR$/m);
        for (const remote of ["cluster2", "cluster3"]) {
            assert.ok(diagram.includes(`subgraph ${remote}["${remote} · network${remote.slice(-1)} (remote of cluster1)"]`));
            assert.ok(diagram.includes(`${remote}_webhook -->|"remotePilotAddress"| cluster1_gw`));
            assert.ok(diagram.includes(`cluster1_istiod -->|"istio-remote-secret-${remote}"| ${remote}_api`));
            assert.ok(diagram.includes(`cluster1_gw <-->|"15443 mTLS by SNI *.local"| ${remote}_gw`));
        }
    });

    it("draws the mixed topology: both primaries, the remote under its own, each istiod watching every other cluster, one path between the networks", async () => {
        const diagram = meshDiagram(await planProgram(mixedConfig(), { preview: true }));
        for (const line of [
            'subgraph cluster1["cluster1 · network1 (primary)"]',
            'subgraph cluster3["cluster3 · network2 (primary)"]',
            'subgraph cluster2["cluster2 · network1 (remote of cluster1)"]',
            'cluster2_webhook -->|"remotePilotAddress"| cluster1_gw',
            'cluster1_istiod -->|"istio-remote-secret-cluster3"| cluster3_api',
            'cluster3_istiod -->|"istio-remote-secret-cluster1"| cluster1_api',
            'cluster3_istiod -->|"istio-remote-secret-cluster2"| cluster2_api',
            'cluster1_gw <-->|"15443 mTLS by SNI *.local"| cluster3_gw',
        ]) {
            assert.ok(diagram.includes(line), `no ${line} in\n${diagram}`);
        }
        assert.ok(!diagram.includes("cluster1_gw <-->|\"15443 mTLS by SNI *.local\"| cluster2_gw"), "clusters on one network reach each other directly");
    });
});
