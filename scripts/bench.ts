/**
 * `npm run bench`: how evaluating the program scales with remotes, and what starting it costs.
 * Not part of the test run. Each measurement runs in a fresh process, so peak memory is its own.
 *
 * - evaluation: wall time and peak RSS of running the whole program under Pulumi's mock runtime for
 *   1, 5, 20 and 50 remotes (a full update's values: addresses, tokens and certificates filled in),
 *   the number of resources and the longest dependency chain;
 * - start-up: a process that loads and evaluates the program (1 remote) through ts-node with type
 *   checking (Pulumi's default), ts-node transpile-only, and precompiled JavaScript (`tsc` to bin/).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommandLine } from "./lib/cli";
import { longestChain, planProgram } from "./lib/plan";
import { kubeconfigText, stackConfig } from "../tests/support";

interface Sample {
    readonly remotes: number;
    readonly ms: number;
    readonly peakMiB: number;
    readonly resources: number;
    readonly chain: number;
}

/** In the child: evaluate once and report. */
async function evaluate(remotes: number): Promise<Sample> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
    fs.writeFileSync(path.join(dir, "config"), kubeconfigText(Array.from({ length: remotes + 1 }, (_, i) => `kind-cluster${i + 1}`)));
    process.env.KUBECONFIG = path.join(dir, "config");
    const start = process.hrtime.bigint();
    const plan = await planProgram(stackConfig(remotes));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { remotes, ms, peakMiB: process.resourceUsage().maxRSS / 1024, resources: plan.resources.length, chain: longestChain(plan) };
}

const ROOT = path.join(__dirname, "..");
const NODE = process.execPath;

function child(args: string[], env: NodeJS.ProcessEnv = {}): { stdout: string; ms: number } {
    const start = process.hrtime.bigint();
    const run = spawnSync(NODE, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 64 << 20 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (run.status !== 0) throw new Error(`${args.join(" ")} failed:\n${run.stderr}`);
    return { stdout: run.stdout, ms };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
    const { values } = parseCommandLine({
        usage: [
            "usage: npm run bench [-- --remotes 1,5,20,50] [--runs 3]",
            "  How evaluating the program under the mock runtime scales with remotes (time, peak memory,",
            "  resources, longest chain), and what starting the program costs. Not part of npm test.",
            "  --remotes LIST   numbers of remotes to evaluate (default 1,5,20,50)",
            "  --runs N         runs of each measurement; the median is shown (default 3)",
            "  -h, --help       this text",
        ].join("\n"),
        options: { child: { type: "string" }, remotes: { type: "string", default: "1,5,20,50" }, runs: { type: "string", default: "3" } },
    });
    if (values.child) {
        console.log(JSON.stringify(await evaluate(Number(values.child))));
        return;
    }
    const runs = Number(values.runs);
    const self = (flags: string[], extra: string[]) => [...flags, path.join("scripts", "bench.ts"), ...extra];

    console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`);
    console.log("remotes  resources  longest chain  evaluation (median)  peak RSS");
    for (const remotes of values.remotes.split(",").map(Number)) {
        const samples = Array.from({ length: runs }, () =>
            JSON.parse(child(self(["-r", "ts-node/register/transpile-only"], ["--child", String(remotes)])).stdout) as Sample,
        );
        const s = samples[0];
        console.log(
            `${String(remotes).padStart(7)}  ${String(s.resources).padStart(9)}  ${String(s.chain).padStart(13)}  ` +
                `${(median(samples.map((x) => x.ms)) / 1000).toFixed(2).padStart(17)} s  ${median(samples.map((x) => x.peakMiB)).toFixed(0).padStart(4)} MiB`,
        );
    }

    execFileSync(NODE, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", ROOT], { cwd: ROOT });
    const startups: [string, string[], NodeJS.ProcessEnv][] = [
        ["ts-node, type-checking (Pulumi's default)", self(["-r", "ts-node/register"], ["--child", "1"]), { TS_NODE_COMPILER_OPTIONS: '{"noCheck":false}' }],
        ["ts-node, transpile-only (tsconfig noCheck, as pulumi up runs it)", self(["-r", "ts-node/register/transpile-only"], ["--child", "1"]), {}],
        ["precompiled JavaScript (tsc)", [path.join("bin", "scripts", "bench.js"), "--child", "1"], {}],
    ];
    console.log("\nstart-up and evaluation of the program, 1 remote (whole process, median)");
    for (const [label, args, env] of startups) {
        console.log(`  ${label.padEnd(66)} ${(median(Array.from({ length: runs }, () => child(args, env).ms)) / 1000).toFixed(2)} s`);
    }
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
