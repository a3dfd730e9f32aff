/**
 * Which way `npm run demo` runs the mesh on this machine: on kind (Docker), where pods and Envoy run,
 * or on the simulated environment (Linux, root, Go), where the control plane and each pod's agent are
 * real and a stand-in acts where Envoy would.
 * Pure: the machine is described by {@link Machine}, so each answer is tested.
 */

export type DemoWay = "kind" | "sim";

/** What the choice depends on. */
export interface Machine {
    readonly platform: NodeJS.Platform;
    readonly isRoot: boolean;
    /** Whether a command is on PATH (for `go`: or at /usr/local/go/bin). */
    readonly has: (command: string) => boolean;
    /** Whether a Docker engine answers (`docker info`). */
    readonly dockerEngine: boolean;
}

/** What each way lacks on a machine, as lines a person can act on (empty: it can run). */
export function missingFor(way: DemoWay, m: Machine): string[] {
    if (way === "kind") {
        const missing = ["docker", "kind", "kubectl", "pulumi"].filter((t) => !m.has(t)).map((t) => `${t} (${INSTALL[t]})`);
        if (m.has("docker") && !m.dockerEngine) missing.push("a running Docker engine (docker is installed but its engine does not answer)");
        return missing;
    }
    const missing: string[] = [];
    if (m.platform !== "linux") missing.push(`Linux (this is ${m.platform}): network namespaces`);
    if (!m.isRoot) missing.push("root (it creates a network namespace: run it with sudo)");
    for (const [tool, why] of [["go", "builds the toolchain from Go modules: https://go.dev/doc/install"], ["ip", "iproute2"], ["openssl", "makes the CA files"]]) {
        if (!m.has(tool)) missing.push(`${tool} (${why})`);
    }
    return missing;
}

const INSTALL: Record<string, string> = {
    docker: "https://docs.docker.com/engine/install/",
    kind: "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    kubectl: "https://kubernetes.io/docs/tasks/tools/",
    pulumi: "https://www.pulumi.com/docs/install/",
};

/**
 * kind when everything it needs is here (real pods and Envoy, the full proof), else the simulated
 * environment when it can run, else neither, with what each way lacks. `wanted` forces a way.
 */
export function chooseDemoWay(m: Machine, wanted?: DemoWay): { way: DemoWay } | { way: undefined; missing: Record<DemoWay, string[]> } {
    const missing = { kind: missingFor("kind", m), sim: missingFor("sim", m) };
    if (wanted !== undefined) return missing[wanted].length === 0 ? { way: wanted } : { way: undefined, missing };
    if (missing.kind.length === 0) return { way: "kind" };
    if (missing.sim.length === 0) return { way: "sim" };
    return { way: undefined, missing };
}
