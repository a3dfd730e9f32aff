import { strict as assert } from "node:assert";
import { type PlannedResource, longestChain, planProgram } from "../scripts/lib/plan";
import { planDiff, stackConfig, useFixtureKubeconfig } from "./support";

/**
 * The canary upgrade as the README documents it, each step one config change and one `pulumi up`:
 * 0. 1.29.2 alone as a revision; 1. add 1.30.3; 2. move the default to it; 3. remove 1.29.2.
 * Asserted on the plan: what each step adds, changes and removes per cluster, and the way back.
 */
const OLD = { version: "1.29.2" };
const NEW = { version: "1.30.3" };
const STEPS: Record<string, unknown>[] = [
    { revisions: [OLD] },
    // With two control planes the stack names base's version: the newer one, as Istio upgrades base first.
    { revisions: [OLD, NEW], defaultRevision: "1-29-2", baseVersion: NEW.version },
    { revisions: [OLD, NEW], defaultRevision: "1-30-3", baseVersion: NEW.version },
    { revisions: [NEW] },
];

/** `role` on each cluster, for clusters 1 (primary) to 1 + remotes. */
const everywhere = (remotes: number, ...roles: string[]) =>
    Array.from({ length: remotes + 1 }, (_, i) => roles.map((role) => `cluster${i + 1}-${role}`)).flat();

type ProgramPlan = Awaited<ReturnType<typeof planProgram>>;

/** The plan of each step with 1, 2 and 3 remotes, made before the describe's tests; `plan(step, remotes = 2)`. */
function stepPlans(steps: readonly Record<string, unknown>[]): (step: number, remotes?: number) => ProgramPlan {
    const plans = new Map<string, ProgramPlan>();
    before(async () => {
        useFixtureKubeconfig();
        for (const remotes of [1, 2, 3]) {
            for (const [step, istio] of steps.entries()) plans.set(`${step}/${remotes}`, await planProgram(stackConfig(remotes, { istio })));
        }
    });
    return (step, remotes = 2) => plans.get(`${step}/${remotes}`) as ProgramPlan;
}

/** What every upgrade path keeps: each step undone by its rollback, and a longest chain that does not grow with the remotes. */
function itUndoesEachStepAndKeepsItsChain(plan: (step: number, remotes?: number) => ProgramPlan, steps: readonly Record<string, unknown>[]): void {
    it("rolls back each step by undoing exactly what it did", () => {
        for (let step = 1; step < steps.length; step++) {
            const forward = planDiff(plan(step - 1), plan(step));
            const back = planDiff(plan(step), plan(step - 1));
            assert.deepEqual(back, { added: forward.removed, changed: forward.changed, removed: forward.added }, `step ${step}`);
        }
    });

    it("keeps the longest dependency chain independent of the number of remotes at every step", () => {
        for (const step of steps.keys()) {
            const lengths = [1, 2, 3].map((remotes) => longestChain(plan(step, remotes)));
            assert.deepEqual(lengths, [lengths[0], lengths[0], lengths[0]], `step ${step}`);
        }
    });
}

describe("upgrading Istio by revision (the plan of each step)", () => {
    const plan = stepPlans(STEPS);
    itUndoesEachStepAndKeepsItsChain(plan, STEPS);

    it("step 1 adds the new control plane on the primary and its webhooks and Service on every remote, and changes only base", () => {
        const { added, changed, removed } = planDiff(plan(0), plan(1));
        assert.deepEqual(removed, []);
        assert.deepEqual(
            added,
            [
                "cluster1-cluster-aware-routing-mesh-networks-1-30-3",
                "cluster1-istiod-vs-1-30-3",
                ...everywhere(2, "istiod-1-30-3"),
            ].sort(),
        );
        // base follows the newest version (its CRDs serve both); nothing that serves traffic changes.
        assert.deepEqual(changed, everywhere(2, "base").sort());
        const istiod = plan(1).resources.find((r) => r.name === "cluster1-istiod-1-30-3") as PlannedResource;
        assert.equal(istiod.inputs.name, "istiod-1-30-3");
        assert.equal((istiod.inputs.values as { revision: string }).revision, "1-30-3");
    });

    it("step 2 moves only the default tag, the default validator and the network gateways", () => {
        const { added, changed, removed } = planDiff(plan(1), plan(2));
        assert.deepEqual([added, removed], [[], []]);
        assert.deepEqual(changed, everywhere(2, "base", "network-gateway", "revision-tag-default").sort());
        for (const r of plan(2).resources.filter((x) => x.name.endsWith("-revision-tag-default"))) {
            const webhooks = r.inputs.webhooks as { clientConfig: { service: { name: string } } }[];
            assert.deepEqual(new Set(webhooks.map((w) => w.clientConfig.service.name)), new Set(["istiod-1-30-3"]), r.name);
        }
        for (const r of plan(2).resources.filter((x) => x.name.endsWith("-network-gateway") && x.type.includes("Release"))) {
            assert.equal((r.inputs.values as { revision: string }).revision, "1-30-3", r.name);
        }
    });

    it("step 2's preview, where the gateways' outputs are unknown until they upgrade, shows the same mesh networks and remote control planes", async () => {
        // Found in the real run: the address read from the gateway release's status made every remote's
        // istiod and the mesh networks look changed in the preview of this step.
        const { changed } = planDiff(plan(1), plan(2));
        const before = new Set(plan(1).resources.map((r) => r.name));
        const preview = await planProgram(stackConfig(2, { istio: STEPS[2] }), {
            preview: true,
            existing: (name) => (!before.has(name) ? undefined : changed.includes(name) ? "update" : "same"),
        });
        const inputs = (name: string) => JSON.stringify((preview.resources.find((r) => r.name === name) as PlannedResource).inputs);
        const settled = (name: string) => JSON.stringify((plan(2).resources.find((r) => r.name === name) as PlannedResource).inputs);
        for (const name of ["cluster1-cluster-aware-routing-mesh-networks-1-30-3", ...everywhere(2, "istiod-1-29-2", "istiod-1-30-3").filter((n) => !n.startsWith("cluster1-"))]) {
            assert.equal(inputs(name), settled(name), `${name} looks changed in the preview`);
        }
    });

    it("step 3 removes exactly the old control plane and its remote pieces", () => {
        const { added, changed, removed } = planDiff(plan(2), plan(3));
        assert.deepEqual([added, changed], [[], []]);
        assert.deepEqual(
            removed,
            ["cluster1-cluster-aware-routing-mesh-networks-1-29-2", "cluster1-istiod-vs-1-29-2", ...everywhere(2, "istiod-1-29-2")].sort(),
        );
    });

    it("rolling back step 1 (removing the new revision) keeps base at the newer version while baseVersion stays; lowering it is a change of its own", async () => {
        const rolledBack = await planProgram(stackConfig(2, { istio: { revisions: [OLD], baseVersion: NEW.version } }));
        const { added, changed, removed } = planDiff(plan(1), rolledBack);
        assert.deepEqual(added, []);
        assert.ok(!changed.some((n) => n.endsWith("-base")), `base changed: ${changed.join(", ")}`);
        assert.deepEqual(removed, planDiff(plan(0), plan(1)).added);
        const base = rolledBack.resources.find((r) => r.name === "cluster1-base") as PlannedResource;
        assert.equal(base.inputs.version, NEW.version);
        // Dropping baseVersion too is the explicit choice to lower base: the preview shows base on every cluster.
        assert.deepEqual(planDiff(rolledBack, plan(0)).changed, everywhere(2, "base").sort());
    });


    it("points each remote's revision at that revision's istiod exposed on the primary", () => {
        const vs = (rev: string) => plan(1).resources.find((r) => r.name === `cluster1-istiod-vs-${rev}`) as PlannedResource;
        for (const rev of ["1-29-2", "1-30-3"]) {
            const remote = plan(1).resources.find((r) => r.name === `cluster2-istiod-${rev}`) as PlannedResource;
            assert.ok(remote.dependencies.includes(vs(rev).urn), `cluster2-istiod-${rev} does not wait for its VirtualService`);
            const spec = vs(rev).inputs.spec as { tls: { match: { sniHosts: string[] }[]; route: { destination: { host: string } }[] }[] };
            assert.deepEqual(spec.tls[0].match[0].sniHosts, [`istiod-${rev}.istio-system.svc`, `istiod-${rev}.istio-system.svc.cluster.local`]);
            assert.equal(spec.tls[0].route[0].destination.host, `istiod-${rev}.istio-system.svc.cluster.local`);
        }
    });

    it("moving from istio.version to revisions re-installs the control plane under the revision's name, with the tag", async () => {
        const unrevisioned = await planProgram(stackConfig(2, { istio: { version: "1.30.3" } }));
        const revisioned = await planProgram(stackConfig(2, { istio: { revisions: [NEW] } }));
        const { added, changed, removed } = planDiff(unrevisioned, revisioned);
        assert.deepEqual(removed, ["cluster1-cluster-aware-routing-mesh-networks", "cluster1-istiod-vs", ...everywhere(2, "istiod")].sort());
        assert.deepEqual(
            added,
            ["cluster1-cluster-aware-routing-mesh-networks-1-30-3", "cluster1-istiod-vs-1-30-3", ...everywhere(2, "istiod-1-30-3", "revision-tag-default")].sort(),
        );
        assert.deepEqual(changed, everywhere(2, "base", "network-gateway").sort());
    });

    it("previews a first install with two revisions cleanly: the same resources, addresses unknown", async () => {
        const preview = await planProgram(stackConfig(2, { istio: STEPS[1] }), { preview: true });
        const names = (rs: readonly PlannedResource[]) => rs.map((r) => r.name).sort();
        assert.deepEqual(names(preview.resources), names(plan(1).resources));
    });

    it("exports the revisions installed and the default one", () => {
        assert.deepEqual(plan(1).outputs.revisions, [
            { name: "1-29-2", version: "1.29.2" },
            { name: "1-30-3", version: "1.30.3" },
        ]);
        assert.equal(plan(1).outputs.defaultRevision, "1-29-2");
        assert.equal(plan(1).outputs.istioVersion, "1.29.2");
    });
});

/**
 * The canary from an install without revisions (`istio.version`), as the README documents it: the
 * control plane without revision stays as the revision named "" while the new one is added and the
 * default moved, and goes last. Nothing of it is replaced on the way, so the proxies it serves keep
 * dialing `istiod.istio-system.svc:15012` until they are restarted.
 */
const UNREVISIONED = { name: "", version: OLD.version };
const FROM_UNREVISIONED: Record<string, unknown>[] = [
    { version: OLD.version },
    { revisions: [UNREVISIONED, NEW], defaultRevision: "", baseVersion: NEW.version },
    { revisions: [UNREVISIONED, NEW], defaultRevision: "1-30-3", baseVersion: NEW.version },
    { revisions: [NEW] },
];

describe("upgrading Istio by revision from an install without revisions (the plan of each step)", () => {
    const plan = stepPlans(FROM_UNREVISIONED);
    itUndoesEachStepAndKeepsItsChain(plan, FROM_UNREVISIONED);

    it("listing the install without revisions as the revision \"\" changes nothing", async () => {
        const listed = await planProgram(stackConfig(2, { istio: { revisions: [UNREVISIONED] } }));
        assert.deepEqual(planDiff(plan(0), listed), { added: [], changed: [], removed: [] });
        assert.deepEqual([listed.outputs.revisions, listed.outputs.defaultRevision], [plan(0).outputs.revisions, plan(0).outputs.defaultRevision]);
    });

    it("step 1 adds the new control plane beside the one without revision, which keeps its own webhooks and stays the default (no tag)", () => {
        const { added, changed, removed } = planDiff(plan(0), plan(1));
        assert.deepEqual(removed, []);
        assert.deepEqual(added, ["cluster1-cluster-aware-routing-mesh-networks-1-30-3", "cluster1-istiod-vs-1-30-3", ...everywhere(2, "istiod-1-30-3")].sort());
        assert.deepEqual(changed, everywhere(2, "base").sort());
        assert.ok(!plan(1).resources.some((r) => r.name.endsWith("-revision-tag-default")), "no default tag while the default has no revision");
    });

    it("step 2 adds the default tag, hands it the unrevisioned istiod's injection only once it exists, and moves the gateways and the default validator", () => {
        const { added, changed, removed } = planDiff(plan(1), plan(2));
        assert.deepEqual(removed, []);
        assert.deepEqual(added, everywhere(2, "revision-tag-default").sort());
        assert.deepEqual(changed, everywhere(2, "base", "istiod", "network-gateway").sort());
        const find = (name: string) => plan(2).resources.find((r) => r.name === name) as PlannedResource;
        for (const cluster of ["cluster1", "cluster2", "cluster3"]) {
            const istiod = find(`${cluster}-istiod`);
            const tag = find(`${cluster}-revision-tag-default`);
            assert.deepEqual((istiod.inputs.values as { global: Record<string, unknown> }).global.operatorManageWebhooks, true, `${cluster}: istiod without revision still renders its own webhooks beside the tag`);
            assert.ok(istiod.dependencies.includes(tag.urn), `${cluster}: istiod without revision would drop its webhooks before the tag exists`);
            const webhooks = tag.inputs.webhooks as { clientConfig: { service: { name: string } } }[];
            assert.deepEqual(new Set(webhooks.map((w) => w.clientConfig.service.name)), new Set(["istiod-1-30-3"]), cluster);
        }
        // Before the move, the unrevisioned istiod renders its webhooks as it always did.
        const before = plan(1).resources.find((r) => r.name === "cluster1-istiod") as PlannedResource;
        assert.equal((before.inputs.values as { global: Record<string, unknown> }).global.operatorManageWebhooks, undefined);
    });

    it("step 3 removes exactly the control plane without revision: istiod, its VirtualService and mesh networks on the primary, istiod on every remote", () => {
        const { added, changed, removed } = planDiff(plan(2), plan(3));
        assert.deepEqual([added, changed], [[], []]);
        assert.deepEqual(removed, ["cluster1-cluster-aware-routing-mesh-networks", "cluster1-istiod-vs", ...everywhere(2, "istiod")].sort());
    });

});
