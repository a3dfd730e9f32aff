/**
 * `kubectl exec` on the simulated environment: a command run in a pod's network namespace, in its
 * directory, as its container's user — the command itself from this machine (the images are never
 * pulled: the sample's curl is the host's curl).
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { type SimState, kubeConfigOf } from "../state";
import { sandboxNames } from "./kubelet";

export async function execInPod(
    state: SimState,
    clusterName: string,
    namespace: string,
    podName: string,
    container: string,
    command: readonly string[],
    stdin?: string,
): Promise<string> {
    const cluster = state.clusters.find((c) => c.name === clusterName);
    if (!cluster) throw new Error(`no cluster ${clusterName} in the simulated environment`);
    const pod = await kubeConfigOf(state, cluster).makeApiClient(CoreV1Api).readNamespacedPod({ name: podName, namespace });
    const spec = pod.spec?.containers.find((c) => c.name === container);
    if (!spec) throw new Error(`pod ${namespace}/${podName} has no container ${container}`);
    const user = spec.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser ?? 0;
    const { netns } = sandboxNames(pod.metadata?.uid ?? "");
    return new Promise((resolve, reject) => {
        const child = spawn("ip", ["netns", "exec", netns, "setpriv", `--reuid=${user}`, `--regid=${user}`, "--clear-groups", "--", ...command], {
            cwd: path.join(state.dir, "pods", cluster.name, namespace, podName),
            stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`command terminated with exit code ${code}: ${stderr.trim().slice(-500)}`))));
        child.stdin.end(stdin ?? "");
    });
}
