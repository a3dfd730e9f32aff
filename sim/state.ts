/** Where the environment keeps its files (`.sim/`, git-ignored) and what `up` recorded for `status`, `down` and the e2e. */
import * as fs from "node:fs";
import * as path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { SimCluster } from "./topology";

export const ROOT = path.join(__dirname, "..");
export const SIM_DIR = path.join(ROOT, ".sim");
const STATE_FILE = path.join(SIM_DIR, "state.json");

export interface SimState {
    /** `.sim/` */
    readonly dir: string;
    /** The kubeconfig with a context per cluster (`kwok-<name>`). */
    readonly kubeconfig: string;
    /** The built binaries (sim/toolchain/build.sh). */
    readonly binDir: string;
    readonly chartDirectory: string;
    /** The Istio versions whose charts and pilot-discovery the toolchain built, newest first. */
    readonly istioVersions: readonly string[];
    readonly caDirectory: string;
    readonly logDir: string;
    readonly clusters: readonly SimCluster[];
    /** API server URL of each cluster, reachable inside the namespace. */
    readonly apiServers: Readonly<Record<string, string>>;
    readonly supervisorPid?: number;
    readonly createdAt: string;
}

export function readState(): SimState {
    if (!fs.existsSync(STATE_FILE)) throw new Error("no simulated environment here: run `npm run sim -- up` first");
    return JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as SimState;
}

export function hasState(): boolean {
    return fs.existsSync(STATE_FILE);
}

export function writeState(state: SimState): void {
    fs.mkdirSync(SIM_DIR, { recursive: true });
    fs.writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
}

/** The environment's kubeconfig with `cluster`'s context current. */
export function kubeConfigOf(state: SimState, cluster: SimCluster): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(state.kubeconfig);
    kc.setCurrentContext(cluster.context);
    return kc;
}
