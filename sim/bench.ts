/**
 * `npm run bench:sim [-- --remotes 1,2,5,10]`: the real engine's figures on the simulated environment,
 * for one primary and N remotes, each N on an environment of its own (so its memory is its own):
 * time-to-mesh of one `pulumi up` from empty, the time until istiod reports every remote synced,
 * the environment's memory, a no-op `up`, adding the N-th remote to N−1, and `destroy`. A benchmark,
 * not a test: it asserts nothing but that each step succeeded, and writes .bench/sim.json.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommandLine } from "../scripts/lib/cli";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { cpuDuring, environmentMemoryMiB, istiodAddress, istiodClusters } from "./checks";
import { down, inNamespace, prepare, reexecInNamespace, startInside, writeStackFile } from "./environment";
import { eventually } from "./eventually";
import { simStack } from "./pulumi";
import { ROOT, hasState } from "./state";
import { NETNS } from "./topology";

interface Sample {
    readonly remotes: number;
    readonly resources: number;
    readonly simUpSeconds: number;
    readonly upSeconds: number;
    readonly syncedSeconds: number;
    readonly memoryMiB: number;
    readonly noopUpSeconds: number;
    readonly addNthSeconds?: number;
    readonly destroySeconds: number;
    /** CPU seconds of each group of processes during the `up` from empty (sim/checks.ts processGroup). */
    readonly upCpuSeconds: Record<string, number>;
    /** The `up` from empty's resources by kind: how many, the longest one's seconds, and their sum (engine events, 1 s resolution). */
    readonly upResourceSeconds: Record<string, { count: number; longest: number; sum: number }>;
}

/** What a resource is, for where the time of an `up` goes: Helm releases by chart (istiod: the primary's apart), the rest by API group. */
function resourceKind(urn: string, type: string, primary: string): string {
    const name = urn.split("::").at(-1) ?? "";
    if (type === "kubernetes:helm.sh/v3:Release") {
        if (name.endsWith("-base")) return "Helm base";
        if (name.endsWith("-network-gateway")) return "Helm network gateway";
        if (/-istiod(-|$)/.test(name)) return name.startsWith(`${primary}-istiod`) ? "Helm istiod (primary)" : "Helm istiod (remotes' webhooks)";
    }
    if (type.startsWith("tls:")) return "tls (CA)";
    if (type.startsWith("kubernetes:")) return "other Kubernetes objects";
    return "components and providers";
}

/** Each resource's time from the engine's events (pre-step to outputs), summed up by kind. */
function resourceSeconds(events: readonly EngineEvent[], primary: string): Sample["upResourceSeconds"] {
    const started = new Map<string, number>();
    const out: Sample["upResourceSeconds"] = {};
    for (const e of events) {
        const pre = e.resourcePreEvent?.metadata;
        const done = e.resOutputsEvent?.metadata;
        if (pre) started.set(pre.urn, e.timestamp);
        if (done && started.has(done.urn)) {
            const seconds = e.timestamp - (started.get(done.urn) as number);
            const k = resourceKind(done.urn, done.type, primary);
            const o = (out[k] ??= { count: 0, longest: 0, sum: 0 });
            o.count += 1;
            o.longest = Math.max(o.longest, seconds);
            o.sum += seconds;
        }
    }
    return out;
}

const RESULTS = path.join(ROOT, ".bench");
const seconds = (start: number) => (Date.now() - start) / 1000;

/** Inside the namespace: one N, on a fresh environment. */
async function measure(binDir: string, remotes: number): Promise<Sample> {
    let start = Date.now();
    const state = await startInside(binDir, remotes);
    const simUpSeconds = seconds(start);
    const stack = await simStack(state);
    const log = fs.openSync(path.join(state.logDir, `bench-${remotes}.log`), "a");
    const options = { onOutput: (out: string) => fs.writeSync(log, out) };
    const everySynced = (clusters: readonly string[]) =>
        eventually(async () => {
            const seen = await istiodClusters(await istiodAddress(state));
            const missing = clusters.filter((c) => seen[c] !== "synced");
            if (missing.length > 0) throw new Error(`istiod has not synced ${missing.join(", ")}`);
        }, 300_000);
    const remoteNames = state.clusters.slice(1).map((c) => c.name);

    writeStackFile(state, state.clusters);
    start = Date.now();
    const events: EngineEvent[] = [];
    const [up, upCpuSeconds] = await cpuDuring(NETNS, () => stack.up({ ...options, onEvent: (e) => events.push(e) }));
    const upSeconds = seconds(start);
    const upResourceSeconds = resourceSeconds(events, state.clusters[0].name);
    await everySynced(remoteNames);
    const syncedSeconds = seconds(start);
    const memoryMiB = environmentMemoryMiB(NETNS);
    const resources = Object.values(up.summary.resourceChanges ?? {}).reduce((a, b) => a + b, 0);

    start = Date.now();
    await stack.up(options);
    const noopUpSeconds = seconds(start);

    let addNthSeconds: number | undefined;
    if (remotes > 1) {
        writeStackFile(state, state.clusters.slice(0, -1));
        await stack.up(options);
        writeStackFile(state, state.clusters);
        start = Date.now();
        await stack.up(options);
        addNthSeconds = seconds(start);
        await everySynced(remoteNames);
    }

    start = Date.now();
    await stack.destroy(options);
    return { remotes, resources, simUpSeconds, upSeconds, syncedSeconds, memoryMiB, noopUpSeconds, addNthSeconds, destroySeconds: seconds(start), upCpuSeconds, upResourceSeconds };
}

function table(samples: readonly Sample[]): string {
    const f = (n: number | undefined) => (n === undefined ? "-" : n.toFixed(1));
    const one = samples.find((s) => s.remotes === 1);
    const rows = [
        ["remotes", "resources", "sim up", "up from empty", "× 1 remote", "all synced", "no-op up", "add N-th", "destroy", "memory"],
        ...samples.map((s) => [
            String(s.remotes),
            String(s.resources),
            `${f(s.simUpSeconds)} s`,
            `${f(s.upSeconds)} s`,
            one ? `${(s.upSeconds / one.upSeconds).toFixed(2)}` : "-",
            `${f(s.syncedSeconds)} s`,
            `${f(s.noopUpSeconds)} s`,
            s.addNthSeconds === undefined ? "-" : `${f(s.addNthSeconds)} s`,
            `${f(s.destroySeconds)} s`,
            `${(s.memoryMiB / 1024).toFixed(1)} GiB`,
        ]),
    ];
    return aligned(rows);
}

function aligned(rows: readonly string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")).join("\n");
}

/** Where the `up` from empty goes at each N: CPU seconds by group of processes, and the longest resource of each kind. */
function breakdown(samples: readonly Sample[]): string {
    const ns = samples.map((s) => `N=${s.remotes}`);
    const groups = [...new Set(samples.flatMap((s) => Object.keys(s.upCpuSeconds)))];
    const cpu = [
        ["CPU seconds during the up from empty", ...ns],
        ...groups.map((g) => [g, ...samples.map((s) => (s.upCpuSeconds[g] ?? 0).toFixed(1))]),
        ["all (of the up's wall time × cores)", ...samples.map((s) => {
            const all = Object.values(s.upCpuSeconds).reduce((a, b) => a + b, 0);
            return `${all.toFixed(0)} (${Math.round((100 * all) / (s.upSeconds * os.cpus().length))} %)`;
        })],
    ];
    const kinds = [...new Set(samples.flatMap((s) => Object.keys(s.upResourceSeconds)))];
    const resources = [
        ["resources: count, longest s (sum s)", ...ns],
        ...kinds.map((k) => [k, ...samples.map((s) => {
            const r = s.upResourceSeconds[k];
            return r === undefined ? "-" : `${r.count}, ${r.longest} (${r.sum})`;
        })]),
    ];
    return `${aligned(cpu)}\n\n${aligned(resources)}`;
}

async function main(): Promise<number> {
    const { values } = parseCommandLine({
        usage: [
            "usage: npm run bench:sim [-- --remotes 1,2,5,10]",
            "  The real engine on the simulated environment (Linux, root, Go), one environment per number of",
            "  remotes: time-to-mesh of `pulumi up` from empty, istiod syncing every remote, memory, a no-op up,",
            "  adding the N-th remote, destroy. Writes .bench/sim.json. Not part of the tests.",
            "  --remotes LIST   numbers of remotes (default 1,2,5,10)",
            "  -h, --help       this text",
        ].join("\n"),
        options: { remotes: { type: "string", default: "1,2,5,10" }, "bin-dir": { type: "string" }, one: { type: "string" } },
    });
    if (inNamespace()) {
        const sample = await measure(values["bin-dir"] as string, Number(values.one));
        fs.mkdirSync(RESULTS, { recursive: true });
        fs.writeFileSync(path.join(RESULTS, `sim-${sample.remotes}.json`), JSON.stringify(sample));
        return 0;
    }
    const samples: Sample[] = [];
    for (const n of values.remotes.split(",").map(Number)) {
        if (hasState()) down();
        const binDir = await prepare(); // the toolchain (cached after the first) and a namespace of its own
        const code = reexecInNamespace(__filename, ["--bin-dir", binDir, "--one", String(n)]);
        down();
        if (code !== 0) throw new Error(`the run with ${n} remote(s) failed (logs: .sim/logs)`);
        samples.push(JSON.parse(fs.readFileSync(path.join(RESULTS, `sim-${n}.json`), "utf8")) as Sample);
        console.log(`bench:sim: ${n} remote(s) done`);
    }
    console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB\n\n${table(samples)}\n\n${breakdown(samples)}`);
    fs.writeFileSync(path.join(RESULTS, "sim.json"), JSON.stringify({ at: new Date().toISOString(), samples }, null, 2));
    return 0;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(`bench:sim: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    },
);
