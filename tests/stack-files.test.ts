import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { CA_FILES, loadStackConfig } from "../lib/config";
import { readConfigJson, readStackFile } from "../scripts/lib/stack-file";
import { kubeconfigText, tempDir, useFixtureKubeconfig } from "./support";

const stackFileConfig = (file: string) => readStackFile(path.join(__dirname, "..", file));

describe("the shipped stack files", () => {
    before(() => useFixtureKubeconfig());

    it("Pulumi.dev.yaml validates against kind's contexts", () => {
        const config = loadStackConfig(stackFileConfig("Pulumi.dev.yaml"));
        assert.deepEqual([config.primary.name, ...config.remotes.map((r) => r.name)], ["cluster1", "cluster2"]);
        assert.ok([config.primary, ...config.remotes].every((c) => !c.apiServer.includes("127.0.0.1")));
    });

    it("refuses encrypted values it cannot decrypt, and reads `pulumi config --json` output", () => {
        const dir = tempDir("stack-");
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

    it("Pulumi.prod.yaml validates: three remotes, no sample, CA from files, protected CA and remote secrets", () => {
        const raw = stackFileConfig("Pulumi.prod.yaml");
        const contexts = ["prod-east", "prod-west", "prod-central", "prod-south"];
        const kubeconfig = path.join(tempDir("prod-"), "config");
        // Cloud clusters' API servers, on addresses other clusters reach.
        fs.writeFileSync(kubeconfig, kubeconfigText(contexts, (i) => `https://198.51.100.${i + 1}:443`));
        const certs = tempDir("certs-");
        for (const cluster of contexts) {
            fs.mkdirSync(path.join(certs, cluster));
            for (const f of CA_FILES) fs.writeFileSync(path.join(certs, cluster, f), "pem");
        }
        const saved = process.env.KUBECONFIG;
        process.env.KUBECONFIG = kubeconfig;
        try {
            const ca = JSON.parse(raw["istio-multicluster:ca"]) as Record<string, string>;
            assert.equal(ca.directory, "certs/prod");
            const config = loadStackConfig({ ...raw, "istio-multicluster:ca": JSON.stringify({ ...ca, directory: certs }) });
            assert.equal(config.remotes.length, 3);
            assert.equal(config.sample.enabled, false);
            assert.equal(config.ca.source, "files");
            assert.deepEqual(config.protect, { ca: true, remoteSecrets: true });
        } finally {
            process.env.KUBECONFIG = saved;
        }
    });

    it("hold secrets only as ciphertext", () => {
        // Pulumi.sim.yaml is written by `npm run sim` (git-ignored, paths to a local kubeconfig), not shipped.
        for (const file of fs.readdirSync(path.join(__dirname, "..")).filter((f) => /^Pulumi\..+\.yaml$/.test(f) && f !== "Pulumi.sim.yaml")) {
            const text = fs.readFileSync(path.join(__dirname, "..", file), "utf8");
            assert.doesNotMatch(text, /-----BEGIN|token:|client-key-data|password/i, file);
            const config = (YAML.parse(text) as { config: Record<string, unknown> }).config;
            const kubeconfigs = JSON.stringify(config).match(/"kubeconfig":("[^"]*"|\{[^}]*\})/g) ?? [];
            for (const k of kubeconfigs) assert.match(k, /"secure"/, `${file}: a kubeconfig in a stack file must be set with --secret`);
        }
    });

    it("Pulumi.yaml declares the project's keys with types and descriptions", () => {
        const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as {
            config: Record<string, { type?: string; description?: string; default?: unknown }>;
        };
        const keys = Object.keys(project.config).filter((k) => k.startsWith("istio-multicluster:")).map((k) => k.split(":")[1]);
        assert.deepEqual(keys, ["primary", "primaries", "remotes", "istio", "ca", "protect", "sample"]);
        for (const [key, declared] of Object.entries(project.config).filter(([k]) => k.startsWith("istio-multicluster:"))) {
            assert.ok(declared.type && declared.description, key);
            // Every key needs a default, or Pulumi would require it; the topology keys' defaults mean unset (one of primary and primaries is set).
            assert.deepEqual(declared.default, declared.type === "array" ? [] : {}, key);
        }
    });

    it("Pulumi.yaml disables default Kubernetes providers", () => {
        const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as {
            config: Record<string, { value: unknown }>;
        };
        assert.deepEqual(project.config["pulumi:disable-default-providers"].value, ["kubernetes"]);
    });
});
