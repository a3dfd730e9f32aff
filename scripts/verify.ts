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
import { type MeshApi, type Report, formatReport, verifyMesh } from "./lib/verify";
import { inNamespace, reexecInNamespace } from "../sim/environment";
import { execInPod } from "../sim/kubelet/exec";
import { type SimState, hasState, readState } from "../sim/state";
import { STACK as SIM_STACK } from "../sim/topology";

/** Verifies the mesh of a validated stack config on its clusters. */
export async function verifyStack(config: StackConfig, options: { requests?: number; timeoutMs?: number; simulated?: SimState } = {}): Promise<Report> {
    if (!config.sample.enabled) throw new Error("the sample is disabled in this stack (sample.enabled: false): there is nothing to call");
    const clusters = [...config.primaries, ...config.remotes];
    const api = kubernetesMeshApi(Object.fromEntries(clusters.map((c) => [c.name, c.kubeconfig])));
    // On the simulated environment a command runs in the pod's own network namespace (no container runtime, no exec API).
    const simulated = options.simulated;
    const meshApi: MeshApi = simulated ? { ...api, exec: (...args) => execInPod(simulated, ...args) } : api;
    return verifyMesh(meshApi, {
        primary: config.primary.name,
        remotes: config.remotes.map((r) => r.name),
        primaries: config.primaries.map((p) => p.name),
        primaryOf: Object.fromEntries(config.remotes.map((r) => [r.name, r.primary])),
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
            "  --stack NAME         the stack whose Pulumi.<stack>.yaml to read (default: $PULUMI_STACK or dev);",
            "                       `sim`: the simulated environment's (npm run sim / demo), its pods' namespaces for exec",
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
    // The simulated environment's stack: run inside its network namespace, where its API servers and pods are.
    const simulated = values.stack === SIM_STACK && values["config-json"] === undefined && hasState();
    if (simulated && !inNamespace()) return reexecInNamespace(__filename, process.argv.slice(2));
    const config = loadStackConfig(readStackConfig({ stack: values.stack, configJson: values["config-json"] }));
    const report = await verifyStack(config, { requests: Number(values.requests), timeoutMs: Number(values.timeout) * 1000, simulated: simulated ? readState() : undefined });
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
