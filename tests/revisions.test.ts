import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { findLocalChart } from "../lib/charts";
import { defaultTagWebhook, injectionLabels, newestVersion, revisionNameOf, revisioned } from "../lib/revisions";
import { tempDir } from "./support";

describe("revisions", () => {
    it("name a version's revision with dashes, and suffix Istio's object names with it", () => {
        assert.equal(revisionNameOf("1.30.3"), "1-30-3");
        assert.equal(revisioned("istiod", "1-30-3"), "istiod-1-30-3");
        assert.equal(revisioned("istiod", ""), "istiod");
    });

    it("take base from the newest version, by semver (1.30.10 is newer than 1.30.9)", () => {
        const revisions = [{ name: "a", version: "1.30.9" }, { name: "b", version: "1.30.10" }, { name: "c", version: "1.30.10-rc.1" }];
        assert.equal(newestVersion({ revisions, defaultRevision: "a" }), "1.30.10");
    });

    it("label a namespace with the default tag's istio-injection, or with a pinned revision", () => {
        assert.deepEqual(injectionLabels(undefined), { "istio-injection": "enabled" });
        assert.deepEqual(injectionLabels("canary"), { "istio.io/rev": "canary" });
    });

    it("point the default tag's four webhooks at the revision's istiod, labelled so that revision's istiod patches their CA", () => {
        const tag = defaultTagWebhook("1-30-3", "/inject/cluster/cluster2/net/network2");
        assert.equal(tag.metadata.name, "istio-revision-tag-default");
        assert.deepEqual([tag.metadata.labels["istio.io/tag"], tag.metadata.labels["istio.io/rev"]], ["default", "1-30-3"]);
        // istiod patches the CA bundle of webhooks whose names end so (pkg/webhooks/webhookpatch.go).
        assert.ok(tag.webhooks.every((w) => w.name.endsWith("sidecar-injector.istio.io")));
        assert.deepEqual(new Set(tag.webhooks.map((w) => JSON.stringify(w.clientConfig))), new Set([
            JSON.stringify({ service: { name: "istiod-1-30-3", namespace: "istio-system", path: "/inject/cluster/cluster2/net/network2", port: 443 } }),
        ]));
        // istio-injection=enabled namespaces are the default tag's.
        const byNamespace = tag.webhooks.find((w) => w.name === "namespace.sidecar-injector.istio.io");
        assert.deepEqual(byNamespace?.namespaceSelector.matchExpressions, [{ key: "istio-injection", operator: "In", values: ["enabled"] }]);
        assert.equal(defaultTagWebhook("canary").webhooks[0].clientConfig.service.path, "/inject");
    });

    it("find a revision's chart in a local directory by its version first", () => {
        const dir = tempDir("charts-");
        for (const d of ["istiod-1.29.2", "istiod-1.30.3", "istiod"]) {
            fs.mkdirSync(path.join(dir, d));
            fs.writeFileSync(path.join(dir, d, "Chart.yaml"), "name: istiod\n");
        }
        assert.equal(findLocalChart(dir, "istiod", "1.29.2"), path.join(dir, "istiod-1.29.2"));
        assert.equal(findLocalChart(dir, "istiod", "1.31.0"), path.join(dir, "istiod"));
    });
});
