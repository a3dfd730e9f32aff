/**
 * `kubectl exec` on the simulated environment: a command run in a pod's network namespace, in its
 * directory, as its container's user — the command itself from this machine (the images are never
 * pulled: the sample's curl is the host's curl).
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { type SimState, kubeConfigOf } from "../state";
import { inPod, sandboxNames } from "./kubelet";
import { containerUser } from "./pod-spec";

/** A command's exit code and output, run in a pod as its container: `kubectl exec`'s stand-in. */
export async function runInPod(
    state: SimState,
    clusterName: string,
    namespace: string,
    podName: string,
    container: string,
    command: readonly string[],
    stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const cluster = state.clusters.find((c) => c.name === clusterName);
    if (!cluster) throw new Error(`no cluster ${clusterName} in the simulated environment`);
    const pod = await kubeConfigOf(state, cluster).makeApiClient(CoreV1Api).readNamespacedPod({ name: podName, namespace });
    const spec = pod.spec?.containers.find((c) => c.name === container);
    if (!spec) throw new Error(`pod ${namespace}/${podName} has no container ${container}`);
    const { user, group } = containerUser(pod, spec);
    const { netns } = sandboxNames(pod.metadata?.uid ?? "");
    return new Promise((resolve, reject) => {
        const child = spawn("ip", inPod(netns, user, group, command), {
            cwd: path.join(state.dir, "pods", cluster.name, namespace, podName),
            stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(stdin ?? "");
    });
}

/** {@link runInPod} as the exec API answers: the standard output, or a rejection naming a non-zero exit. */
export async function execInPod(...args: Parameters<typeof runInPod>): Promise<string> {
    const { code, stdout, stderr } = await runInPod(...args);
    if (code !== 0) throw new Error(`command terminated with exit code ${code}: ${stderr.trim().slice(-500)}`);
    return stdout;
}
