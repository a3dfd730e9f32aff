/** Shared test fixtures: a kubeconfig with several clusters, and stack configs built from it. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { PROJECT } from "../lib/config";
import type { Plan, PlannedResource } from "../scripts/lib/plan";

export const CONTEXTS = ["kind-cluster1", "kind-cluster2", "kind-cluster3", "kind-cluster4"];

/** A kubeconfig with one context per cluster, each API server on its own port (kind's: on loopback). */
export function kubeconfigText(contexts: readonly string[] = CONTEXTS, server = (i: number) => `https://127.0.0.1:${6443 + i}`): string {
    return YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: contexts.map((c, i) => ({ name: c, cluster: { server: server(i) } })),
        users: contexts.map((c) => ({ name: c, user: { token: `user-token-${c}` } })),
        contexts: contexts.map((c) => ({ name: c, context: { cluster: c, user: c } })),
        "current-context": contexts[0],
    });
}

const tempDirs: string[] = [];

/** Removes every directory {@link tempDir} made (a root hook, after each test file: tests/hooks.ts). */
export function removeTempDirs(): void {
    for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A new directory under the system's temp directory, removed once its test file has run. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    tempDirs.push(dir);
    return dir;
}

/** Writes the fixture kubeconfig to a temp file and points KUBECONFIG at it (as a user's shell would). */
export function useFixtureKubeconfig(): string {
    const dir = tempDir("istio-multicluster-test-");
    const file = path.join(dir, "config");
    fs.writeFileSync(file, kubeconfigText());
    process.env.KUBECONFIG = file;
    return file;
}

export interface ClusterEntry {
    name: string;
    network: string;
    context?: string;
    kubeconfig?: string;
    apiServer?: string;
    gatewayAddress?: string;
}

export function cluster(n: number, extra: Partial<ClusterEntry> = {}): ClusterEntry {
    return { name: `cluster${n}`, network: `network${n}`, context: `kind-cluster${n}`, apiServer: `https://172.18.0.${n + 1}:6443`, ...extra };
}

/** A stack config (as `pulumi config` holds it) with a primary and `remotes` remotes. */
export function stackConfig(remotes = 1, extra: Record<string, unknown> = {}): Record<string, string> {
    const values: Record<string, unknown> = {
        primary: cluster(1),
        remotes: Array.from({ length: remotes }, (_, i) => cluster(i + 2)),
        ...extra,
    };
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** A stack config of any top-level keys (`primaries`, `remotes`, …), as `pulumi config` holds it. */
export function meshConfig(values: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** Istio CI's mixed shape: primaries cluster1 (network1) and cluster3 (network2), cluster2 a remote of cluster1 on network1. */
export function mixedConfig(extra: Record<string, unknown> = {}): Record<string, string> {
    return meshConfig({
        primaries: [cluster(1), cluster(3, { network: "network2" })],
        remotes: [{ ...cluster(2, { network: "network1" }), primary: "cluster1" }],
        ...extra,
    });
}

/** The resources of one type, or the single one with that type and name. */
export function ofType(resources: readonly PlannedResource[], type: string): PlannedResource[] {
    return resources.filter((r) => r.type === type);
}

export function named(resources: readonly PlannedResource[], name: string): PlannedResource {
    const found = resources.filter((r) => r.name === name);
    if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
    return found[0];
}

/** Reads a dotted path of a plain object. */
export function at(value: unknown, dotted: string): unknown {
    return dotted.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
}

/** True if `urn` is among the transitive dependencies of `from` (dependsOn, inputs, and through parents' children). */
export function waitsFor(resources: readonly PlannedResource[], from: PlannedResource, target: PlannedResource): boolean {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const seen = new Set<string>();
    const stack = [...from.dependencies];
    while (stack.length > 0) {
        const urn = stack.pop() as string;
        if (urn === target.urn) return true;
        if (seen.has(urn)) continue;
        seen.add(urn);
        stack.push(...(byUrn.get(urn)?.dependencies ?? []));
    }
    return false;
}

/** The value of an Output (do not use on values a preview leaves unknown: they never resolve). */
export function outputOf<T>(output: { apply<U>(f: (t: T) => U): unknown }): Promise<T> {
    return new Promise((resolve) => output.apply((v: T) => resolve(v)));
}

/** The Kubernetes resources of a plan (custom or read, not components or providers). */
export function kubernetesObjects(resources: readonly PlannedResource[]): PlannedResource[] {
    return resources.filter((r) => r.type.startsWith("kubernetes:"));
}

/** A plan's resources by URN. */
export const byUrn = (plan: Plan) => new Map(plan.resources.map((r) => [r.urn, r]));

/** What a second plan adds, changes (inputs) and removes against a first, as sorted resource names. */
export function planDiff(before: Plan, after: Plan): { added: string[]; changed: string[]; removed: string[] } {
    const old = byUrn(before);
    const current = byUrn(after);
    const names = (rs: readonly PlannedResource[]) => rs.map((r) => r.name).sort();
    return {
        added: names(after.resources.filter((r) => !old.has(r.urn))),
        changed: names(after.resources.filter((r) => old.has(r.urn) && JSON.stringify(r.inputs) !== JSON.stringify(old.get(r.urn)?.inputs))),
        removed: names(before.resources.filter((r) => !current.has(r.urn))),
    };
}
