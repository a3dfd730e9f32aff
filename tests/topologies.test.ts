import { strict as assert } from "node:assert";
import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { meshTopology, policies } from "../policy/rules";
import { type PlannedResource, planProgram } from "../scripts/lib/plan";
import { cluster, meshConfig, mixedConfig, planDiff, stackConfig, useFixtureKubeconfig } from "./support";

/**
 * Istio's multicluster models from one config (Istio's guides; Istio CI's mixed topology,
 * prow/config/topology/multicluster.json): multi-primary, primary-remote and mixed, each asserted on
 * the plan — who runs istiod, who watches whom, who holds CA keys, and what a change of shape touches.
 */
type ProgramPlan = Awaited<ReturnType<typeof planProgram>>;
const SECRET = "kubernetes:core/v1:Secret";

/** Per cluster (provider), the clusters its istiod watches: the remote secrets on it, by `networking.istio.io/cluster`. */
function watches(plan: ProgramPlan): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const r of plan.resources.filter((x) => x.type === SECRET && (x.inputs.metadata as { labels?: Record<string, string> }).labels?.["istio/multiCluster"] === "true")) {
        const annotations = (r.inputs.metadata as { annotations: Record<string, string> }).annotations;
        (out[r.provider ?? ""] ??= []).push(annotations["networking.istio.io/cluster"]);
    }
    return Object.fromEntries(Object.entries(out).map(([k, v]): [string, string[]] => [k, v.sort()]).sort());
}

const providersOf = (plan: ProgramPlan, pick: (r: PlannedResource) => boolean) => [...new Set(plan.resources.filter(pick).map((r) => r.provider ?? ""))].sort();
const byName = (plan: ProgramPlan, name: string) => plan.resources.find((r) => r.name === name) as PlannedResource;
const meshNetworksOn = (plan: ProgramPlan): Record<string, string> =>
    Object.fromEntries(plan.resources.filter((r) => r.name.endsWith("-mesh-networks")).map((r): [string, string] => [r.provider ?? "", (r.inputs.data as { meshNetworks: string }).meshNetworks]));

/** Every policy's violations for a plan (the policy pack as the preview runs it). */
async function policyViolations(plan: ProgramPlan): Promise<string[]> {
    const resources = plan.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs, urn: r.urn, provider: r.provider ? { name: r.provider } : undefined }) as unknown as PolicyResource);
    const found: string[] = [];
    for (const p of policies) {
        if ("validateStack" in p) await p.validateStack({ resources } as unknown as StackValidationArgs, (m) => found.push(`${p.name}: ${m}`));
        else for (const r of resources) {
            const validate = p.validateResource;
            for (const v of Array.isArray(validate) ? validate : validate ? [validate] : []) await v({ ...r, opts: {} } as never, (m) => found.push(`${p.name}: ${m}`));
        }
    }
    return found;
}

describe("topologies from one config", () => {
    const plans: Record<string, ProgramPlan> = {};
    before(async () => {
        useFixtureKubeconfig();
        plans.primaryRemote = await planProgram(stackConfig(2));
        plans.mixed = await planProgram(mixedConfig());
        plans.multiPrimary = await planProgram(meshConfig({ primaries: [cluster(1), cluster(2)] }));
        plans.addedPrimary = await planProgram(meshConfig({ primaries: [cluster(1), cluster(3, { network: "network2" })], remotes: [{ ...cluster(2), primary: "cluster1" }] }));
        plans.primaryRemoteOne = await planProgram(stackConfig(1));
        plans.moved = await planProgram(mixedConfig({ remotes: [{ ...cluster(2, { network: "network1" }), primary: "cluster3" }] }));
    });

    it("mixed (Istio CI's shape): istiod and CA keys on both primaries, none on the remote; each istiod watches every other cluster", () => {
        const plan = plans.mixed;
        assert.deepEqual(providersOf(plan, (r) => r.name.endsWith("-istiod") && (r.inputs.values as { profile?: string }).profile !== "remote"), ["cluster1", "cluster3"]);
        assert.deepEqual(providersOf(plan, (r) => r.type === SECRET && (r.inputs.metadata as { name?: string }).name === "cacerts"), ["cluster1", "cluster3"]);
        assert.deepEqual(watches(plan), { cluster1: ["cluster2", "cluster3"], cluster3: ["cluster1", "cluster2"] });
        // One reader token per watched cluster, on that cluster, serving every watcher.
        const tokens = plan.resources.filter((r) => r.name.endsWith("-reader-token"));
        assert.deepEqual(tokens.map((t) => `${t.name} @${t.provider}`).sort(), ["cluster1-remote-secret-reader-token @cluster1", "cluster2-remote-secret-reader-token @cluster2", "cluster3-remote-secret-reader-token @cluster3"]);
        // One intermediate per primary under the one root.
        assert.deepEqual(plan.resources.filter((r) => r.type.startsWith("tls:") && r.name.endsWith("-cert")).map((r) => r.name).sort(), ["mesh-ca-cluster1-cert", "mesh-ca-cluster3-cert", "mesh-ca-root-cert"]);
    });

    it("mixed: the remote is injected and configured by its own primary, through that primary's gateway", () => {
        const plan = plans.mixed;
        const ns = byName(plan, "cluster2-istio-system");
        assert.deepEqual((ns.inputs.metadata as { annotations: Record<string, string> }).annotations, { "topology.istio.io/controlPlaneClusters": "cluster1" });
        const istiod = byName(plan, "cluster2-istiod");
        assert.ok(istiod.dependencies.includes(byName(plan, "cluster1-istiod-vs").urn), "its istiod release waits for cluster1's exposed istiod");
        assert.ok(!istiod.dependencies.includes(byName(plan, "cluster3-istiod-vs").urn), "and not for cluster3's");
        assert.equal(((istiod.inputs.values as { istiodRemote: { injectionPath: string } }).istiodRemote).injectionPath, "/inject/cluster/cluster2/net/network1");
    });

    it("mixed: every istiod gets the same mesh networks (clusters on one network share it; every network's gateways), and a cross-network Gateway per primary", () => {
        const networks = meshNetworksOn(plans.mixed);
        assert.deepEqual(Object.keys(networks).sort(), ["cluster1", "cluster3"]);
        assert.equal(networks.cluster1, networks.cluster3);
        const parsed = JSON.parse(networks.cluster1) as { networks: Record<string, { endpoints: { fromRegistry: string }[] }> };
        assert.deepEqual(
            Object.fromEntries(Object.entries(parsed.networks).map(([n, v]) => [n, v.endpoints.map((e) => e.fromRegistry)])),
            { network1: ["cluster1", "cluster2"], network2: ["cluster3"] },
        );
        assert.deepEqual(providersOf(plans.mixed, (r) => r.name.endsWith("-cross-network-gateway")), ["cluster1", "cluster3"]);
    });

    it("multi-primary: two primaries watching each other, no remote", () => {
        assert.deepEqual(watches(plans.multiPrimary), { cluster1: ["cluster2"], cluster2: ["cluster1"] });
        assert.deepEqual(providersOf(plans.multiPrimary, (r) => r.name.endsWith("-cross-network-gateway")), ["cluster1", "cluster2"]);
    });

    it("primary-remote keeps one istiod watching its remotes", () => {
        assert.deepEqual(watches(plans.primaryRemote), { cluster1: ["cluster2", "cluster3"] });
        assert.deepEqual(providersOf(plans.primaryRemote, (r) => r.type === SECRET && (r.inputs.metadata as { name?: string }).name === "cacerts"), ["cluster1"]);
    });

    it("passes the policy pack in every shape", async () => {
        for (const [shape, plan] of Object.entries(plans)) assert.deepEqual(await policyViolations(plan), [], shape);
    });

    it("adding a primary adds its own pieces and the watches both ways, and changes only the existing primary's mesh networks", () => {
        const { added, changed, removed } = planDiff(plans.primaryRemoteOne, plans.addedPrimary);
        assert.deepEqual([changed, removed], [["cluster1-cluster-aware-routing-mesh-networks"], []]);
        // The watches: cluster3 of cluster1 and of the remote, cluster1 of cluster3 (a reader token on each watched primary).
        for (const name of ["cluster1-remote-secret-reader-token", "cluster1-remote-secret-secret-cluster3", "cluster2-remote-secret-secret-cluster3", "cluster3-remote-secret-reader-token", "cluster3-remote-secret-secret-cluster1"]) {
            assert.ok(added.includes(name), `${name} not added`);
        }
        assert.deepEqual(added.filter((n) => !n.startsWith("cluster3") && !n.startsWith("mesh-ca-cluster3")), ["cluster1-remote-secret", "cluster1-remote-secret-reader-token", "cluster1-remote-secret-secret-cluster3", "cluster2-remote-secret-secret-cluster3"]);
    });

    it("removing a primary takes back exactly what adding it added", () => {
        const forward = planDiff(plans.primaryRemoteOne, plans.addedPrimary);
        assert.deepEqual(planDiff(plans.addedPrimary, plans.primaryRemoteOne), { added: forward.removed, changed: forward.changed, removed: forward.added });
    });

    it("moving a remote to another primary changes only its control-plane annotation and its istiod's pointer; both keep watching it", () => {
        assert.deepEqual(planDiff(plans.mixed, plans.moved), { added: [], changed: ["cluster2-istio-system", "cluster2-istiod"], removed: [] });
        const ns = byName(plans.moved, "cluster2-istio-system");
        assert.deepEqual((ns.inputs.metadata as { annotations: Record<string, string> }).annotations, { "topology.istio.io/controlPlaneClusters": "cluster3" });
        assert.ok(byName(plans.moved, "cluster2-istiod").dependencies.includes(byName(plans.moved, "cluster3-istiod-vs").urn));
        assert.deepEqual(watches(plans.moved), watches(plans.mixed));
    });

    it("previews a first install of the mixed shape cleanly: the same resources, addresses unknown", async () => {
        const preview = await planProgram(mixedConfig(), { preview: true });
        const names = (p: ProgramPlan) => p.resources.map((r) => r.name).sort();
        assert.deepEqual(names(preview), names(plans.mixed));
    });

    describe("policy every-istiod-watches-the-mesh", () => {
        const run = async (plan: ProgramPlan, drop: (r: PlannedResource) => boolean, edit: (r: PlannedResource) => PlannedResource = (r) => r) => {
            const resources = plan.resources.filter((r) => !drop(r)).map(edit).map((r) => ({ type: r.type, name: r.name, props: r.inputs, urn: r.urn, provider: r.provider ? { name: r.provider } : undefined }) as unknown as PolicyResource);
            const found: string[] = [];
            await meshTopology.validateStack({ resources } as unknown as StackValidationArgs, (m) => found.push(m ?? ""));
            return found;
        };
        it("names an istiod that does not watch a cluster", async () =>
            assert.deepEqual(await run(plans.mixed, (r) => r.name === "cluster2-remote-secret-secret-cluster3"), [
                "istiod on cluster3 does not watch cluster2: no remote secret for it there, so it knows none of its endpoints",
            ]));
        it("names CA keys where no istiod runs, and mesh networks that differ", async () => {
            const found = await run(plans.mixed, () => false, (r) =>
                r.name === "cluster3-cacerts" ? { ...r, provider: "cluster2" } : r.name === "cluster3-cluster-aware-routing-mesh-networks" ? { ...r, inputs: { ...r.inputs, data: { meshNetworks: "{}" } } } : r,
            );
            assert.deepEqual(found.sort(), [
                "cluster3-cacerts puts CA keys (cacerts) on cluster2, where no istiod runs",
                "the istiods' mesh networks differ (2 versions): every istiod must route to the same gateways",
            ]);
        });
    });
});
