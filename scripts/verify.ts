/**
 * `npm run verify [-- --stack dev | --config-json config.json] [--requests 20] [--timeout 120] [--json]`:
 * the page's proof on the clusters of a stack. Finds the curl client on the primary, calls
 * helloworld through the exec API, tallies which versions and instances answered, checks that the
 * primary's istiod sees every remote, and exits non-zero unless every expected version answered.
 * Prints no secret.
 */
import { parseCommandLine } from "./lib/cli";
import { type StackConfig, loadStackConfig } from "../lib/config";
import { kubernetesMeshApi } from "./lib/kube-api";
import { readStackConfig } from "./lib/stack-file";
import { type Report, formatReport, verifyMesh } from "./lib/verify";

/** Verifies the mesh of a validated stack config on its clusters. */
export async function verifyStack(config: StackConfig, options: { requests?: number; timeoutMs?: number } = {}): Promise<Report> {
    if (!config.sample.enabled) throw new Error("the sample is disabled in this stack (sample.enabled: false): there is nothing to call");
    const clusters = [config.primary, ...config.remotes];
    return verifyMesh(kubernetesMeshApi(Object.fromEntries(clusters.map((c) => [c.name, c.kubeconfig]))), {
        primary: config.primary.name,
        remotes: config.remotes.map((r) => r.name),
        namespace: config.sample.namespace,
        expectedVersions: [...new Set(Object.values(config.sample.versions).flat())].sort(),
        ...options,
    });
}

async function main(): Promise<number> {
    const { values } = parseCommandLine({
        usage: [
            "usage: npm run verify [-- --stack NAME | --config-json FILE] [--requests N] [--timeout SECONDS] [--json]",
            "  The page's proof on a stack's clusters: N calls from the curl client on the primary to",
            "  helloworld.sample:5000/hello, tallied by version and instance, and each remote secret checked.",
            "  Exits 1 unless every expected version answered.",
            "  --stack NAME         the stack whose Pulumi.<stack>.yaml to read (default: $PULUMI_STACK or dev)",
            "  --config-json FILE   `pulumi config --show-secrets --json` output instead (- for standard input)",
            "  --requests N         calls to count after the warm-up (default 20)",
            "  --timeout SECONDS    how long to wait for pods and answers (default 120)",
            "  --json               the report as JSON",
            "  -h, --help           this text",
        ].join("\n"),
        options: {
            stack: { type: "string", default: process.env.PULUMI_STACK ?? "dev" },
            "config-json": { type: "string" },
            requests: { type: "string", default: "20" },
            timeout: { type: "string", default: "120" },
            json: { type: "boolean" },
        },
    });
    const config = loadStackConfig(readStackConfig({ stack: values.stack, configJson: values["config-json"] }));
    const report = await verifyStack(config, { requests: Number(values.requests), timeoutMs: Number(values.timeout) * 1000 });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? 0 : 1;
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (e: unknown) => {
            console.error(`verify: ${e instanceof Error ? e.message : String(e)}`);
            process.exit(2);
        },
    );
}
