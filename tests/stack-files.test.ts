import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { loadStackConfig } from "../lib/config";
import { useFixtureKubeconfig } from "./support";

/** A stack file's config as the Pulumi CLI hands it to the program: objects as JSON text. */
function stackFileConfig(file: string): Record<string, string> {
    const parsed = YAML.parse(fs.readFileSync(path.join(__dirname, "..", file), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(parsed.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

describe("the shipped stack files", () => {
    before(() => useFixtureKubeconfig());

    it("Pulumi.dev.yaml validates against kind's contexts", () => {
        const config = loadStackConfig(stackFileConfig("Pulumi.dev.yaml"));
        assert.deepEqual([config.primary.name, ...config.remotes.map((r) => r.name)], ["cluster1", "cluster2"]);
        assert.ok([config.primary, ...config.remotes].every((c) => !c.apiServer.includes("127.0.0.1")));
    });

    it("Pulumi.yaml disables default Kubernetes providers", () => {
        const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as {
            config: Record<string, { value: unknown }>;
        };
        assert.deepEqual(project.config["pulumi:disable-default-providers"].value, ["kubernetes"]);
    });
});
