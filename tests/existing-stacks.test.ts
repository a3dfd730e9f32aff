import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { planProgram } from "../scripts/lib/plan";
import { stackConfig, useFixtureKubeconfig } from "./support";

/**
 * Stacks written before multi-primary (one `primary`, its remotes) must preview no change and no
 * replacement: every resource keeps its URN (or names the old one as an alias: the engine moves it in
 * the state, as the same object), its provider and its inputs. The snapshot was taken from the
 * program before the topology model changed; `UPDATE_PLAN_SNAPSHOT=1` rewrites it, which is a change
 * every existing stack would see in its next preview.
 */
const SNAPSHOT = path.join(__dirname, "fixtures", "single-primary-plans.json");
const STACKS: Record<string, Record<string, string>> = {
    "one primary, one remote": stackConfig(1),
    "one primary, two remotes, a canary from the install without revisions": stackConfig(2, {
        istio: { revisions: [{ name: "", version: "1.29.2" }, { version: "1.30.5" }], defaultRevision: "1-30-5", baseVersion: "1.30.5" },
        sample: { versions: { cluster1: ["v1"], cluster3: ["v1", "v2"] } },
    }),
};

const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);

describe("existing stacks (one primary) after the topology model", () => {
    before(() => useFixtureKubeconfig());

    it("preview no change and no replacement: the same resources, providers and inputs", async () => {
        const plans: Record<string, Record<string, string>> = {};
        const renamed: Record<string, string[]> = {};
        for (const [name, config] of Object.entries(STACKS)) {
            const plan = await planProgram(config);
            // A resource with an alias is checked under the URN it had (same parent and type, the alias's name).
            const asBefore = (r: (typeof plan.resources)[number]) => (r.aliases.length > 0 ? r.urn.replace(/::[^:]+$/, `::${r.aliases[0]}`) : r.urn);
            plans[name] = Object.fromEntries(plan.resources.map((r) => [asBefore(r), `${r.provider ?? ""} ${digest(r.inputs)}`]));
            renamed[name] = plan.resources.filter((r) => r.aliases.length > 0).map((r) => `${r.aliases[0]} -> ${r.name}`);
        }
        if (process.env.UPDATE_PLAN_SNAPSHOT === "1") fs.writeFileSync(SNAPSHOT, `${JSON.stringify(plans, null, 1)}\n`);
        const recorded = JSON.parse(fs.readFileSync(SNAPSHOT, "utf8")) as typeof plans;
        for (const name of Object.keys(STACKS)) {
            const urns = (p: Record<string, string>) => Object.keys(p).sort();
            assert.deepEqual(urns(plans[name]), urns(recorded[name]), `${name}: resources added or removed`);
            const changed = Object.keys(recorded[name]).filter((urn) => plans[name][urn] !== recorded[name][urn]);
            assert.deepEqual(changed, [], `${name}: provider or inputs changed`);
        }
        // The one move: the remote secret on a remote's own primary is named by its watcher now.
        assert.deepEqual(renamed["one primary, one remote"], ["cluster2-remote-secret-secret -> cluster2-remote-secret-secret-cluster1"]);
    });
});
