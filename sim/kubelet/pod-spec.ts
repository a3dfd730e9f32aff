/**
 * What a kubelet reads from a pod spec, as pure functions: a container's environment (field
 * references resolved) and arguments (`$(VAR)` expanded), the downward API's file format, the
 * pod's /etc/hosts and /etc/resolv.conf, and which of the environment's stand-ins runs for each
 * container.
 */
import * as path from "node:path";
import type { V1Container, V1EnvVar, V1Pod, V1Service } from "@kubernetes/client-node";

/** The value of a `fieldRef` from the pod (undefined: not one a kubelet fills from what we have). */
export function fieldValue(pod: V1Pod, fieldPath: string): string | undefined {
    const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
    if (keyed) return (keyed[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations)?.[keyed[2]];
    switch (fieldPath) {
        case "metadata.name":
            return pod.metadata?.name;
        case "metadata.namespace":
            return pod.metadata?.namespace;
        case "metadata.uid":
            return pod.metadata?.uid;
        case "spec.serviceAccountName":
            return pod.spec?.serviceAccountName;
        case "spec.nodeName":
            return pod.spec?.nodeName;
        case "status.podIP":
            return pod.status?.podIP;
        case "status.podIPs":
            return (pod.status?.podIPs ?? []).map((p) => p.ip).join(",") || pod.status?.podIP;
        case "status.hostIP":
            return pod.status?.hostIP;
        default:
            return undefined;
    }
}

function envValue(pod: V1Pod, e: V1EnvVar): string | undefined {
    if (e.value !== undefined) return e.value;
    if (e.valueFrom?.fieldRef) return fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
    // resourceFieldRef (GOMAXPROCS, GOMEMLIMIT, ISTIO_CPU_LIMIT) and Secret/ConfigMap keys: left to the program's defaults.
    return undefined;
}

/** A container's environment as a kubelet gives it: literal values and field references, in order. */
export function containerEnv(pod: V1Pod, container: V1Container): Record<string, string> {
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
        const value = envValue(pod, e);
        if (value !== undefined) env[e.name] = expand(value, env);
    }
    return env;
}

/** `$(VAR)` replaced by a defined variable, `$$` by `$`, as a kubelet expands command, args and env. */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
    return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (name === undefined ? "$" : (env[name] ?? m)));
}

/** A downward API file of labels or annotations: `key="value"` lines, sorted, values quoted as Go's %q would. */
export function downwardApiFile(map: Readonly<Record<string, string>> | undefined): string {
    return Object.keys(map ?? {})
        .sort()
        .map((k) => `${k}=${JSON.stringify((map ?? {})[k])}`)
        .join("\n");
}

/** The build of `base` for an image's tag (`<base>-<tag>`, as the toolchain names each Istio version's), else the newest (`base`). */
export function binaryForImage(base: string, image: string | undefined, available: readonly string[]): string {
    const tag = image?.includes(":") ? image.slice(image.lastIndexOf(":") + 1) : "";
    return available.includes(`${base}-${tag}`) ? `${base}-${tag}` : base;
}

/** The user and group a container runs as: its security context, else the pod's, else root. */
export function containerUser(pod: V1Pod, container: V1Container): { user: number; group: number } {
    const user = container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser ?? 0;
    return { user, group: container.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup ?? user };
}

/** The sidecar (`istio-proxy`, a container or a native sidecar init container), if injected. */
export function istioProxy(pod: V1Pod): V1Container | undefined {
    return (
        pod.spec?.containers.find((c) => c.name === "istio-proxy") ??
        pod.spec?.initContainers?.find((c) => c.name === "istio-proxy" && c.restartPolicy === "Always")
    );
}

/**
 * The pod's /etc/hosts: the kubelet's own lines (localhost, the pod's name at its address) and, where
 * cluster DNS would answer, each Service's names at its ClusterIP (`<svc>.<ns>.svc.cluster.local`,
 * `<svc>.<ns>.svc`, `<svc>.<ns>`, and `<svc>` in the pod's own namespace).
 */
export function hostsFile(pod: V1Pod, services: readonly V1Service[], domain = "cluster.local"): string {
    const lines = ["# Kubernetes-managed hosts file (the simulated environment's kubelet; Service names stand in for cluster DNS).", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
    if (pod.status?.podIP) lines.push(`${pod.status.podIP}\t${pod.metadata?.name ?? ""}`);
    for (const s of services) {
        const ip = s.spec?.clusterIP;
        const name = s.metadata?.name;
        const ns = s.metadata?.namespace;
        if (!ip || ip === "None" || !name || !ns) continue;
        const names = [`${name}.${ns}.svc.${domain}`, `${name}.${ns}.svc`, `${name}.${ns}`, ...(ns === pod.metadata?.namespace ? [name] : [])];
        lines.push(`${ip}\t${names.join(" ")}`);
    }
    return `${lines.join("\n")}\n`;
}

/** The pod's /etc/resolv.conf: cluster DNS's search path; its nameserver is loopback, where nothing answers (names come from /etc/hosts). */
export function resolvConf(namespace: string, domain = "cluster.local"): string {
    return `search ${namespace}.svc.${domain} svc.${domain} ${domain}\nnameserver 127.0.0.1\noptions ndots:5\n`;
}

/** What the environment runs for a container: the sidecar's agent (and the Envoy stand-in), an app's stand-in, or nothing. */
export type StandIn =
    | { readonly kind: "istio-proxy" }
    | { readonly kind: "echo-server"; readonly version: string; readonly ports: readonly number[] }
    | { readonly kind: "none"; readonly why: string };

/** Istio's helloworld images (`<hub>/examples-helloworld-<version>:<tag>`) run as Istio's echo app, reporting that version. */
export function standInFor(container: V1Container): StandIn {
    if (container.name === "istio-proxy") return { kind: "istio-proxy" };
    const helloworld = /examples-helloworld-([a-z0-9]+):/.exec(container.image ?? "");
    if (helloworld) return { kind: "echo-server", version: helloworld[1], ports: (container.ports ?? []).map((p) => p.containerPort) };
    return { kind: "none", why: `no stand-in for image ${container.image ?? "(none)"}; it sleeps, as the sample's curl does` };
}

/**
 * Whether the environment's kubelet runs a pod: running with an address, not istiod's (the supervisor
 * runs those as pilot-discovery), and with a sidecar or an app it has a stand-in for.
 */
export function runsHere(pod: V1Pod): boolean {
    const running = pod.status?.phase === "Running" && Boolean(pod.status.podIP) && !pod.metadata?.deletionTimestamp;
    const istiod = pod.spec?.containers.some((c) => c.name === "discovery") === true;
    return running && !istiod && (istioProxy(pod) !== undefined || pod.spec?.containers.some((c) => standInFor(c).kind !== "none") === true);
}

/** Where the kubelet stand-in writes a container's output: `<logs>/pods/<cluster>/<namespace>_<pod>_<container>.log` (appended to). */
export function containerLogFile(logs: string, cluster: string, pod: string, container: string): string {
    return path.join(logs, "pods", cluster, `${pod.replace("/", "_")}_${container}.log`);
}
