import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { loadStackConfig } from "../lib/config";
import { readConfigJson, readStackFile } from "../lib/stack-file";
import { useFixtureKubeconfig } from "./support";

const stackFileConfig = (file: string) => readStackFile(path.join(__dirname, "..", file));

describe("the shipped stack files", () => {
    before(() => useFixtureKubeconfig());

    it("Pulumi.dev.yaml validates against kind's contexts", () => {
        const config = loadStackConfig(stackFileConfig("Pulumi.dev.yaml"));
        assert.deepEqual([config.primary.name, ...config.remotes.map((r) => r.name)], ["cluster1", "cluster2"]);
        assert.ok([config.primary, ...config.remotes].every((c) => !c.apiServer.includes("127.0.0.1")));
    });

    it("refuses encrypted values it cannot decrypt, and reads `pulumi config --json` output", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
        const file = path.join(dir, "Pulumi.prod.yaml");
        fs.writeFileSync(file, "config:\n  istio-multicluster:primary:\n    name: c1\n    kubeconfig:\n      secure: AAEAAQ==\n");
        assert.throws(() => readStackFile(file), /holds encrypted values \(istio-multicluster:primary\)/);
        const json = JSON.stringify({
            "istio-multicluster:primary": { value: '{"name":"c1"}', objectValue: { name: "c1" }, secret: true },
            "istio-multicluster:istio": { value: '{"version":"1.30.3"}', secret: false },
        });
        assert.deepEqual(readConfigJson(json), {
            "istio-multicluster:primary": '{"name":"c1"}',
            "istio-multicluster:istio": '{"version":"1.30.3"}',
        });
    });

    it("Pulumi.yaml disables default Kubernetes providers", () => {
        const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as {
            config: Record<string, { value: unknown }>;
        };
        assert.deepEqual(project.config["pulumi:disable-default-providers"].value, ["kubernetes"]);
    });
});
