import { strict as assert } from "node:assert";
import * as semver from "semver";
import { CHART_KEYS_CHECKED_AGAINST, CHART_KEYS_HOLD_FOR, type IstioChart, leafPaths, unknownChartKeys } from "../lib/chart-keys";
import { ISTIO_DEFAULTS } from "../lib/config";
import { planProgram } from "../scripts/lib/plan";
import { stackConfig, useFixtureKubeconfig } from "./support";

describe("Helm values", () => {
    before(() => useFixtureKubeconfig());

    it("were checked against a tag of the patch line the stack pins by default, and say so", () => {
        const minor = (v: string) => v.split(".").slice(0, 2).join(".");
        assert.equal(minor(CHART_KEYS_CHECKED_AGAINST), minor(ISTIO_DEFAULTS.version));
        assert.equal(CHART_KEYS_HOLD_FOR, `${minor(CHART_KEYS_CHECKED_AGAINST)}.x`);
        assert.ok(semver.gte(ISTIO_DEFAULTS.version, "1.30.4"), "the default carries the fixes of istio/istio#61043 and #60920");
    });

    for (const remotes of [1, 3]) {
        it(`use only keys the pinned charts define (${remotes} remote${remotes > 1 ? "s" : ""})`, async () => {
            const { resources } = await planProgram(stackConfig(remotes));
            const releases = resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release");
            assert.equal(releases.length, 3 * (remotes + 1));
            for (const release of releases) {
                const chart = release.inputs.chart as IstioChart;
                assert.deepEqual(unknownChartKeys(chart, release.inputs.values as Record<string, unknown>), [], release.name);
            }
        });
    }

    it("a misspelt key is caught", () => {
        assert.deepEqual(unknownChartKeys("istiod", { global: { meshId: "mesh1", network: "n" } }), ["global.meshId"]);
        assert.deepEqual(unknownChartKeys("gateway", { networkgateway: "n" }), ["networkgateway"]);
    });

    it("flattens values to leaf paths", () => {
        assert.deepEqual(leafPaths({ a: { b: 1, c: { d: "x" } }, e: [1] }), ["a.b", "a.c.d", "e"]);
    });
});
