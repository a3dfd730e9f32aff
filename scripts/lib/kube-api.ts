/** {@link MeshApi} on real clusters, through @kubernetes/client-node. */
import { Readable, Writable } from "node:stream";
import { CoreV1Api, Exec, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { MeshApi } from "./verify";

const isReady = (pod: V1Pod) =>
    pod.status?.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** A MeshApi over the given kubeconfigs (by cluster name); each is a full kubeconfig with its context current. */
export function kubernetesMeshApi(kubeconfigs: Readonly<Record<string, string>>, pollMs = 2000): MeshApi {
    const configOf = (cluster: string) => {
        const kc = new KubeConfig();
        kc.loadFromString(kubeconfigs[cluster]);
        return kc;
    };
    return {
        async findReadyPod(cluster, namespace, selector, timeoutMs) {
            const kc = configOf(cluster);
            const core = kc.makeApiClient(CoreV1Api);
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const pods = await core.listNamespacedPod({ namespace, labelSelector: selector }).catch((e: unknown) => {
                    const reason = e instanceof Error ? e.message : String(e);
                    throw new Error(`cannot list pods on ${cluster} (API server ${kc.getCurrentCluster()?.server ?? "unknown"}): ${reason}`);
                });
                const ready = pods.items.find(isReady);
                if (ready?.metadata?.name) return ready.metadata.name;
                if (Date.now() >= deadline) {
                    throw new Error(
                        `no ready pod ${selector} in namespace ${namespace} on ${cluster} after ${Math.round(timeoutMs / 1000)}s ` +
                            `(${pods.items.length === 0 ? "none exists" : `${pods.items.length} not ready`}); is the sample enabled and deployed?`,
                    );
                }
                await new Promise((r) => setTimeout(r, pollMs));
            }
        },
        exec(cluster, namespace, pod, container, command, stdin) {
            return new Promise((resolve, reject) => {
                let stdout = "";
                const sink = new Writable({
                    write(chunk: Buffer, _encoding, done) {
                        stdout += chunk.toString();
                        done();
                    },
                });
                new Exec(configOf(cluster))
                    .exec(namespace, pod, container, command, sink, null, stdin === undefined ? null : Readable.from([stdin]), false, (status) =>
                        status.status === "Success" ? resolve(stdout) : reject(new Error(status.message ?? "exec failed")),
                    )
                    .catch(reject);
            });
        },
        async dryRunPod(cluster, namespace) {
            const pod = { metadata: { generateName: "verify-injection-" }, spec: { containers: [{ name: "c", image: "busybox" }] } };
            return configOf(cluster)
                .makeApiClient(CoreV1Api)
                .createNamespacedPod({ namespace, body: pod, dryRun: "All" })
                .then(
                    () => undefined,
                    (e: unknown) => {
                        const body = (e as { body?: unknown }).body;
                        const message = typeof body === "string" ? ((JSON.parse(body) as { message?: string }).message ?? body) : e instanceof Error ? e.message : String(e);
                        return message;
                    },
                );
        },
        async readSecret(cluster, namespace, name) {
            try {
                const secret = await configOf(cluster).makeApiClient(CoreV1Api).readNamespacedSecret({ name, namespace });
                return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
            } catch {
                return undefined;
            }
        },
    };
}
