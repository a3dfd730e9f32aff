/**
 * The simulated multi-cluster environment: start it (`up`), read it (`status`), remove it (`down`).
 * Real API servers, controller-managers, schedulers and etcd per cluster (kwokctl, binary runtime),
 * kwok faking the node and pod status, a real istiod; all inside one network namespace whose
 * 10.0.0.0/8 is local, so no traffic ever leaves it. Needs root (ip netns).
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { makeMeshCa } from "./certs";
import { POD_NETNS_PREFIX } from "./kubelet/kubelet";
import { ROOT, SIM_DIR, type SimState, hasState, readState, writeState } from "./state";
import {
    HOST_ADDRESS,
    LOCAL_RANGE,
    apiServerAtHostAddress,
    NETNS,
    STACK,
    type SimCluster,
    type StackConfigInput,
    clusterPlan,
    kwokctlConfigYaml,
    nodeManifest,
    stackConfigYaml,
} from "./topology";

export const STACK_FILE = path.join(ROOT, `Pulumi.${STACK}.yaml`);

const log = (line: string) => process.stderr.write(`sim: ${line}\n`);

/** A command's failure: how it ended and the end of what it wrote. */
const commandFailed = (cmd: string, args: string[], ended: unknown, stderr: string, stdout: string) =>
    new Error(`${cmd} ${args.join(" ")} failed (${String(ended)}): ${(stderr || stdout).trim().slice(-2000)}`);

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
    const r = spawnSync(cmd, args, { env, encoding: "utf8" });
    if (r.status !== 0) throw commandFailed(cmd, args, r.status ?? r.signal, r.stderr, r.stdout);
    return r.stdout;
}

/** {@link run} without blocking: for commands that may run side by side. */
function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(cmd, args, { env, encoding: "utf8" }, (error, stdout, stderr) => {
            if (error) reject(commandFailed(cmd, args, error.code ?? error.signal, stderr, stdout));
            else resolve(stdout);
        });
    });
}

/** True when this process runs inside the environment's namespace. */
export function inNamespace(): boolean {
    return process.env.SIM_NETNS === NETNS;
}

function namespaceExists(): boolean {
    return run("ip", ["netns", "list"]).split("\n").some((l) => l.split(" ")[0] === NETNS);
}

/**
 * The namespace: loopback up, 10.0.0.0/8 local on it (every pod, node and load-balancer address
 * answers on this host), and a default route into a veth pair that leads nowhere (the API servers
 * need one to pick an advertise address; nothing sent there leaves the namespace).
 */
function createNamespace(): void {
    if (namespaceExists()) return;
    run("ip", ["netns", "add", NETNS]);
    const inside = (...args: string[]) => run("ip", ["netns", "exec", NETNS, "ip", ...args]);
    inside("link", "set", "lo", "up");
    inside("route", "add", "local", LOCAL_RANGE, "dev", "lo");
    inside("link", "add", "sim0", "type", "veth", "peer", "name", "sim1");
    inside("addr", "add", `${HOST_ADDRESS}/32`, "dev", "sim0");
    inside("link", "set", "sim0", "up");
    inside("link", "set", "sim1", "up");
    inside("route", "add", "default", "dev", "sim0");
    // Cloud metadata addresses answer nowhere, at once (nothing here should ask them).
    inside("route", "add", "unreachable", "169.254.0.0/16");
    log(`network namespace ${NETNS} created (${LOCAL_RANGE} local inside it)`);
}

/** Runs `script` (a TypeScript file of ours, through ts-node) with `args` inside the namespace; returns its exit code. */
export function reexecInNamespace(script: string, args: readonly string[]): number {
    const r = spawnSync("ip", ["netns", "exec", NETNS, process.execPath, require.resolve("ts-node/dist/bin"), "--transpile-only", script, ...args], {
        stdio: "inherit",
        env: { ...process.env, SIM_NETNS: NETNS },
    });
    return r.status ?? 1;
}

/**
 * Builds (or finds in the cache) every binary; returns the directory holding them. The build script
 * names each piece as it starts and ends; a cold build runs for minutes per piece, so a line every
 * minute says it is still going.
 */
export async function buildToolchain(): Promise<string> {
    const child = spawn("bash", [path.join(ROOT, "sim", "toolchain", "build.sh")], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const started = Date.now();
    const heartbeat = setInterval(
        () => process.stderr.write(`toolchain: still building (${Math.round((Date.now() - started) / 60_000)} min so far; 25-30 min with empty Go caches, seconds once built)\n`),
        60_000,
    );
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearInterval(heartbeat);
    if (code !== 0) throw new Error("building the toolchain failed (see above)");
    return out.trim().split("\n").pop() as string;
}

function toolEnv(binDir: string): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ""}`, KWOK_WORKDIR: path.join(SIM_DIR, "kwok") };
}

/** Phase 1, outside the namespace: toolchain and namespace. */
export async function prepare(): Promise<string> {
    if (process.getuid?.() !== 0) throw new Error("the simulated environment needs root (it creates a network namespace with ip netns)");
    const binDir = await buildToolchain();
    createNamespace();
    return binDir;
}

/** Phase 2, inside the namespace: clusters, nodes, CA, stack config, supervisor. */
export async function startInside(binDir: string, remotes: number): Promise<SimState> {
    const clusters = clusterPlan(remotes);
    const kubeconfig = path.join(SIM_DIR, "kubeconfig");
    const logDir = path.join(SIM_DIR, "logs");
    fs.mkdirSync(logDir, { recursive: true });
    const env = toolEnv(binDir);
    const existing = run("kwokctl", ["get", "clusters"], env).split("\n").filter(Boolean);
    // Each cluster's own kubeconfig: kwokctl locks the file it writes, so clusters created at once cannot share one.
    const ownKubeconfig = (c: SimCluster) => path.join(SIM_DIR, `kubeconfig-${c.name}`);
    const bin = (name: string) => path.join(binDir, name);
    await Promise.all(
        clusters.filter((c) => !existing.includes(c.name)).map(async (c) => {
            const kwokConfig = path.join(SIM_DIR, `kwokctl-${c.name}.yaml`);
            fs.writeFileSync(kwokConfig, kwokctlConfigYaml(c));
            await runAsync("kwokctl", [
                "create", "cluster", "--name", c.name, "--runtime", "binary", "--config", kwokConfig, "--kubeconfig", ownKubeconfig(c), "--wait", "120s",
                "--etcd-binary", bin("etcd"), "--kube-apiserver-binary", bin("kube-apiserver"), "--kube-controller-manager-binary", bin("kube-controller-manager"),
                "--kube-scheduler-binary", bin("kube-scheduler"), "--kwok-controller-binary", bin("kwok"),
            ], env);
            log(`cluster ${c.name} (${c.role}, ${c.network}) is up`);
        }),
    );
    // One kubeconfig with every cluster's context, as users and the stack config name it.
    const kc = new KubeConfig();
    for (const c of clusters) {
        if (!fs.existsSync(ownKubeconfig(c))) throw new Error(`cluster ${c.name} has no ${ownKubeconfig(c)} (made by an older sim): npm run sim -- down, then up`);
        const own = new KubeConfig();
        own.loadFromFile(ownKubeconfig(c));
        kc.mergeConfig(own);
    }
    fs.writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
    const apiServers: Record<string, string> = {};
    for (const c of clusters) {
        const context = kc.getContextObject(c.context);
        const server = context && kc.getCluster(context.cluster)?.server;
        if (!server) throw new Error(`kwokctl wrote no context ${c.context} into ${kubeconfig}`);
        apiServers[c.name] = apiServerAtHostAddress(server);
        kc.setCurrentContext(c.context);
        const core = kc.makeApiClient(CoreV1Api);
        await core.createNode({ body: nodeManifest(c) as unknown as V1Node }).catch((e: unknown) => {
            if ((e as { code?: number }).code !== 409) throw e;
        });
    }
    const caDirectory = path.join(SIM_DIR, "certs");
    // CA files for every cluster a stack may run istiod on (its primaries; a stack asks none for a remote).
    makeMeshCa(caDirectory, clusters.map((c) => c.name));
    const chartDirectory = path.join(binDir, "charts");
    // Newest first, as the toolchain lists them: the stack starts on the newest, the upgrade e2e on the other.
    const istioVersions = fs.readFileSync(path.join(binDir, "istio-versions"), "utf8").split("\n").filter(Boolean);
    const previous = hasState() ? readState() : undefined;
    const alive = previous?.supervisorPid !== undefined && isAlive(previous.supervisorPid);
    const state: SimState = {
        dir: SIM_DIR,
        kubeconfig,
        binDir,
        chartDirectory,
        istioVersions,
        caDirectory,
        logDir,
        clusters,
        apiServers,
        supervisorPid: alive ? previous?.supervisorPid : undefined,
        createdAt: new Date().toISOString(),
    };
    writeState(state);
    writeStackFile(state, clusters);
    if (alive) return state;
    const out = fs.openSync(path.join(logDir, "supervisor.log"), "a");
    // In the mount namespace of the process that entered this network namespace (`ip netns exec` gives
    // each session a private one): the pods' network namespaces it names are then seen by every session.
    const outer = `/proc/${process.ppid}/ns/mnt`;
    const own = fs.readlinkSync("/proc/self/ns/mnt");
    const prefix = fs.existsSync(outer) && fs.readlinkSync(outer) !== own ? ["nsenter", `--mount=${outer}`, "--"] : [];
    const argv = [...prefix, process.execPath, require.resolve("ts-node/dist/bin"), "--transpile-only", path.join(__dirname, "supervisor.ts")];
    const child = spawn(argv[0], argv.slice(1), {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", out, out],
        env: toolEnv(binDir),
    });
    child.unref();
    const started = { ...state, supervisorPid: child.pid };
    writeState(started);
    log(`supervisor started (pid ${child.pid}, log .sim/logs/supervisor.log)`);
    return started;
}

/** Writes `Pulumi.sim.yaml` for `clusters` of the environment (the first is the primary, unless `topology` says otherwise). */
export function writeStackFile(
    state: SimState,
    clusters: readonly SimCluster[],
    options: Pick<StackConfigInput, "sampleVersions" | "tokenRotations" | "sampleRevision" | "gateways" | "ca" | "topology"> & { istio?: StackConfigInput["istio"] } = {},
): void {
    fs.writeFileSync(
        STACK_FILE,
        stackConfigYaml({
            clusters,
            kubeconfig: state.kubeconfig,
            apiServers: state.apiServers,
            chartDirectory: state.chartDirectory,
            caDirectory: state.caDirectory,
            istio: { version: state.istioVersions[0] },
            ...options,
        }),
    );
}

/**
 * Stops a cluster's API server alone (its etcd, controller-manager, scheduler and kwok keep running,
 * as when a control-plane node is lost); returns what starts it again, with the same command line,
 * so its address and certificates do not change.
 */
export function stopApiServer(cluster: SimCluster): () => void {
    const pidFile = path.join(SIM_DIR, "kwok", "clusters", cluster.name, "pids", "kube-apiserver.pid");
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    const binary = fs.readlinkSync(`/proc/${pid}/exe`);
    process.kill(pid, "SIGTERM");
    // On SIGTERM kube-apiserver closes its listener at once but goes on serving the watches already
    // open (istiod's, the controllers') until they drain or its 60 s shutdown timeout: after a second
    // of that it is killed, so that down is down for every client, as when its node goes.
    if (!exitsWithin(pid, 1000)) {
        process.kill(pid, "SIGKILL");
        exitsWithin(pid, 10_000);
    }
    log(`${cluster.name}: API server stopped (pid ${pid})`);
    return () => {
        const out = fs.openSync(path.join(SIM_DIR, "kwok", "clusters", cluster.name, "logs", "kube-apiserver.log"), "a");
        const child = spawn(binary, argv.slice(1), { cwd, detached: true, stdio: ["ignore", out, out] });
        child.unref();
        fs.writeFileSync(pidFile, String(child.pid));
        log(`${cluster.name}: API server started again (pid ${child.pid})`);
    };
}

/** Whether `pid` has exited (or is a zombie, not yet reaped by its parent) within `ms`. */
function exitsWithin(pid: number, ms: number): boolean {
    const gone = () => {
        try {
            return fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").startsWith("Z");
        } catch {
            return true;
        }
    };
    for (const deadline = Date.now() + ms; !gone(); ) {
        if (Date.now() > deadline) return false;
        spawnSync("sleep", ["0.05"]);
    }
    return true;
}

export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function killAll(netns: string): void {
    for (const pid of run("ip", ["netns", "pids", netns]).split("\n").filter(Boolean)) {
        try {
            process.kill(Number(pid), "SIGKILL");
        } catch {
            // already gone
        }
    }
}

/** Everything `up` made goes: the supervisor and its istiod, the clusters, the namespace, the stack file. */
export function down(): void {
    if (hasState()) {
        const state = readState();
        if (state.supervisorPid !== undefined && isAlive(state.supervisorPid)) {
            try {
                process.kill(-state.supervisorPid, "SIGTERM"); // its process group: istiod goes with it
            } catch {
                process.kill(state.supervisorPid, "SIGTERM");
            }
        }
        if (namespaceExists()) {
            const env = { ...toolEnv(state.binDir), SIM_NETNS: NETNS };
            for (const c of state.clusters) {
                spawnSync("ip", ["netns", "exec", NETNS, "kwokctl", "delete", "cluster", "--name", c.name, "--kubeconfig", state.kubeconfig], { env });
            }
        }
    }
    // The pods' namespaces (sim/kubelet), with whatever still runs in them.
    for (const netns of run("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(POD_NETNS_PREFIX))) {
        killAll(netns);
        spawnSync("ip", ["netns", "del", netns]);
        fs.rmSync(path.join("/etc/netns", netns), { recursive: true, force: true });
    }
    // Anything still running in the namespace (a crashed supervisor's children) goes with it.
    if (namespaceExists()) {
        killAll(NETNS);
        run("ip", ["netns", "del", NETNS]);
    }
    for (const entry of fs.existsSync(SIM_DIR) ? fs.readdirSync(SIM_DIR) : []) {
        if (entry !== "logs") fs.rmSync(path.join(SIM_DIR, entry), { recursive: true, force: true });
    }
    fs.rmSync(STACK_FILE, { force: true });
    log("environment removed (logs kept in .sim/logs)");
}

/** What runs, as lines for a person. */
export function status(): string[] {
    if (!hasState()) return [`no simulated environment (namespace ${NETNS} ${namespaceExists() ? "exists, left over: npm run sim -- down" : "absent"})`];
    const state = readState();
    const lines = [`namespace ${NETNS}: ${namespaceExists() ? "present" : "MISSING"}`];
    lines.push(`supervisor: ${state.supervisorPid !== undefined && isAlive(state.supervisorPid) ? `running (pid ${state.supervisorPid})` : "NOT running"}`);
    const env = toolEnv(state.binDir);
    for (const c of state.clusters) {
        const r = spawnSync("ip", ["netns", "exec", NETNS, path.join(state.binDir, "kubectl"), "--kubeconfig", state.kubeconfig, "--context", c.context, "get", "--raw", "/readyz"], { env, encoding: "utf8" });
        lines.push(`${c.name} (${c.role}, ${c.network}): API server ${state.apiServers[c.name]} ${r.status === 0 ? "ready" : "NOT ready"}`);
    }
    const istiod = spawnSync("pgrep", ["-a", "pilot-discovery"], { encoding: "utf8" }).stdout.trim();
    lines.push(`istiod: ${istiod ? istiod.split("\n").length + " pilot-discovery process(es)" : "not running (it starts when the primary's istiod pod is scheduled)"}`);
    return lines;
}

/** The command line to run something inside the namespace, for the printed instructions. */
export function insideCommand(command: string): string {
    return `sudo ip netns exec ${NETNS} ${command}`;
}
