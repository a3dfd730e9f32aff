/**
 * `npm run demo [-- --destroy] [--on kind|sim]`: the whole mesh in one command, on whatever this
 * machine can run. With Docker, kind, kubectl and the Pulumi CLI: two kind clusters (npm run
 * dev:clusters), a local state backend (no account), `pulumi up` of the `dev` stack through the
 * Automation API, then `npm run verify`'s proof (real requests, real Envoy). Without Docker, on Linux
 * as root with Go: the simulated environment (sim/demo.ts). `--destroy` takes it all down again.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { loadStackConfig } from "../lib/config";
import { demoDestroy, demoUp } from "../sim/demo";
import { down, prepare, reexecInNamespace } from "../sim/environment";
import { hasState } from "../sim/state";
import { parseCommandLine } from "./lib/cli";
import { type DemoWay, type Machine, chooseDemoWay } from "./lib/demo-way";
import { localBackendUrl } from "./lib/local-backend";
import { readStackConfig } from "./lib/stack-file";
import { formatReport } from "./lib/verify";
import { verifyStack } from "./verify";

const ROOT = path.join(__dirname, "..");
const STACK = "dev";

const USAGE = [
    "usage: npm run demo [-- --destroy] [--on kind|sim]",
    "  The mesh of the page (a primary and a remote on two networks) in one command, then its proof.",
    "  On kind when Docker, kind, kubectl and the Pulumi CLI are here (pods and Envoy run: real requests);",
    "  else on the simulated environment when this is Linux, as root, with Go (real API servers, charts,",
    "  istiod and pilot-agents; a stand-in where Envoy would act: requests answered by v1 and v2).",
    "  It names what is missing otherwise.",
    "  --on kind|sim   choose the way instead",
    "  --destroy       take down what the demo made (pulumi destroy, then the clusters)",
    "  -h, --help      this text",
].join("\n");

function devClusters(...args: string[]): void {
    const run = spawnSync("bash", [path.join(ROOT, "scripts", "dev-clusters.sh"), ...args], { stdio: "inherit" });
    if (run.status !== 0) process.exit(run.status ?? 1);
}

function thisMachine(): Machine {
    const onPath = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
    return {
        platform: process.platform,
        isRoot: process.getuid?.() === 0,
        has: (command) => onPath(command) || (command === "go" && fs.existsSync("/usr/local/go/bin/go")),
        dockerEngine: onPath("docker") && spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status === 0,
    };
}

/** On kind: the clusters, `pulumi up` of stack `dev`, `npm run verify`'s report. */
async function onKind(destroy: boolean): Promise<number> {
    if (!destroy) devClusters();
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: STACK, workDir: ROOT },
        {
            envVars: {
                // State in the clone, secrets under an empty passphrase: a demo needs no account.
                PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? localBackendUrl(path.join(ROOT, ".pulumi-state")),
                PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
            },
        },
    );
    const onOutput = (out: string) => process.stdout.write(out);
    if (destroy) {
        // The clusters go even when the destroy fails: left behind, they would hold the mesh anyway.
        try {
            await stack.destroy({ onOutput });
        } finally {
            devClusters("--delete");
        }
        return 0;
    }
    const up = await stack.up({ onOutput });
    console.log(`\npulumi up: ${up.summary.result}; gateway addresses ${JSON.stringify(up.outputs.gatewayAddresses?.value)}\n`);
    const report = await verifyStack(loadStackConfig(readStackConfig({ stack: STACK })));
    console.log(formatReport(report));
    console.log(`\nTry it yourself: ${String(up.outputs.sampleCommand?.value)}\nTake it down: npm run demo -- --destroy`);
    return report.ok ? 0 : 1;
}

/** On the simulated environment: toolchain and namespace here, the rest inside the namespace (sim/demo.ts). */
async function onSim(destroy: boolean): Promise<number> {
    const inside = (...args: string[]) => reexecInNamespace(__filename, ["--inside", ...args]);
    if (destroy) {
        const code = hasState() ? inside("destroy") : 0;
        down();
        return code;
    }
    console.log("demo: the first run builds the toolchain from Go modules (25-30 min with empty Go caches; each piece is named as it starts)");
    const binDir = await prepare();
    return inside("up", "--bin-dir", binDir);
}

async function main(): Promise<number> {
    const { values, positionals } = parseCommandLine({
        usage: USAGE,
        allowPositionals: true,
        options: { destroy: { type: "boolean" }, on: { type: "string" }, inside: { type: "boolean" }, "bin-dir": { type: "string" } },
    });
    if (values.inside) {
        // Inside the simulated environment's namespace (re-executed by onSim).
        return positionals[0] === "destroy" ? demoDestroy() : demoUp(values["bin-dir"] as string);
    }
    if (values.on !== undefined && values.on !== "kind" && values.on !== "sim") {
        process.stderr.write(`--on: expected kind or sim, found ${JSON.stringify(values.on)}\n\n${USAGE}\n`);
        return 2;
    }
    const wanted: DemoWay | undefined = values.on;
    const destroy = values.destroy === true;
    // Take down what is there: the simulated environment if it runs (and kind was not asked for).
    const chosen = destroy && wanted === undefined && hasState() ? { way: "sim" as const } : chooseDemoWay(thisMachine(), wanted);
    if (chosen.way === undefined) {
        const ways = wanted === undefined ? (["kind", "sim"] as const) : [wanted];
        const what = { kind: "on kind (Docker)", sim: "on the simulated environment (no Docker)" };
        console.error(
            [
                "demo: this machine can run the demo neither way. Missing:",
                ...ways.flatMap((w) => [`  ${what[w]}:`, ...chosen.missing[w].map((m) => `    - ${m}`)]),
                "npm test needs none of these (the mock runtime, no cluster): it shows what the program declares.",
            ].join("\n"),
        );
        return 3;
    }
    if (chosen.way === "sim" && !destroy) {
        console.log(
            wanted === "sim"
                ? "demo: on the simulated environment, as asked (--on sim)."
                : "demo: no Docker engine or kind here: running the mesh on the simulated environment instead (Linux, root, Go; see the README's \"Try it without Docker\").",
        );
    }
    return chosen.way === "kind" ? onKind(destroy) : onSim(destroy);
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    },
);
