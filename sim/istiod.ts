/**
 * How the environment runs the primary's istiod pod as a real `pilot-discovery` process, acting as
 * that pod's kubelet: the container's own args and environment (field references resolved from the
 * pod), plus what replaces what a kubelet would mount — a kubeconfig instead of the service-account
 * token, and `cacerts` read from the API instead of a mounted Secret.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { binaryForImage, containerEnv } from "./kubelet/pod-spec";

export interface IstiodProcess {
    readonly args: string[];
    readonly env: Record<string, string>;
}

/** istiod's listeners (pilot/cmd/pilot-discovery/app/cmd.go) that each process binds on its pod's address. */
const LISTENERS = { httpsAddr: 15017, grpcAddr: 15010, secureGRPCAddr: 15012, monitoringAddr: 15014 } as const;

/**
 * Where an istiod's HTTP port (8080: `/ready`, `/debug/…`) listens: the loopback twin of its pod
 * address (10.b.c.d → 127.b.c.d), because istiod answers debug requests from loopback only.
 */
export function istiodHttpAddress(podIp: string): string {
    return podIp.replace(/^\d+\./, "127.");
}

/**
 * The process for an istiod pod: the `discovery` container's args with `--kubeconfig` and every
 * listener on the pod's address (several revisions run side by side, as pods would), its env with
 * field references resolved, and `USE_REMOTE_CERTS` + `ROOT_CA_DIR` so istiod reads the `cacerts`
 * Secret through the API (no volume mounts here). `REVISION` stays as the chart sets it: istiod
 * patches the webhooks' CA bundle only for its own revision.
 */
export function istiodProcess(pod: V1Pod, kubeconfig: string, rootCaDir: string): IstiodProcess {
    const container = pod.spec?.containers.find((c) => c.name === "discovery");
    if (!container) throw new Error(`pod ${pod.metadata?.name ?? "?"} has no discovery container`);
    const env = containerEnv(pod, container);
    const ip = pod.status?.podIP ?? "";
    const listeners = Object.entries(LISTENERS).map(([flag, port]) => `--${flag}=${ip}:${port}`);
    return {
        args: [...(container.args ?? []), "--kubeconfig", kubeconfig, `--httpAddr=${istiodHttpAddress(ip)}:8080`, ...listeners, `--ctrlz_address=${ip}`],
        env: { ...env, USE_REMOTE_CERTS: "true", ROOT_CA_DIR: rootCaDir, KUBECONFIG: kubeconfig },
    };
}

/**
 * The pilot-discovery an istiod pod runs: the one built for its image tag (the toolchain stamps each
 * version's charts with it), else the newest.
 */
export function istiodBinary(pod: V1Pod, available: readonly string[]): string {
    return binaryForImage("pilot-discovery", pod.spec?.containers.find((c) => c.name === "discovery")?.image, available);
}

/** True once kwok reports the pod running with an address (the moment a kubelet would start it). */
export function isStartable(pod: V1Pod): boolean {
    return pod.status?.phase === "Running" && Boolean(pod.status.podIP) && !pod.metadata?.deletionTimestamp;
}
