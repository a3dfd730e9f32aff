/**
 * The environment's kubelet for the pods Istio's data plane lives in (the sample's and the network
 * gateways', on every cluster); kwok only reports them running. For each running pod it makes what a
 * container runtime would: a network namespace with the pod's address (a veth into the environment's
 * namespace), /etc/hosts and /etc/resolv.conf, and the volumes its `istio-proxy` container mounts
 * (the projected service-account token from the TokenRequest API, the `istio-ca-root-cert`
 * ConfigMap, the downward API, emptyDirs) under a directory of its own, where pilot-agent's relative
 * paths (`./var/run/secrets/...`, `./etc/istio/...`) find them. Then it runs:
 * - `istio-proxy`: the pod's own `pilot-agent` command (its args and env as injected, with Envoy
 *   disabled and the workload certificate written to files), as the container's user, and the Envoy
 *   stand-in (sim/envoy) beside it;
 * - helloworld's container: Istio's echo server, reporting the image's version and this cluster.
 * A sidecar's outbound to the cluster's Service range is routed to the pod itself for every user but
 * the proxy's (as istio-iptables redirects by owner), so the Envoy stand-in receives it.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { CoreV1Api, V1Container, V1Pod, V1Service, V1Volume } from "@kubernetes/client-node";
import type { SimCluster } from "../topology";
import { Containers } from "./containers";
import { binaryForImage, containerEnv, containerLogFile, containerUser, downwardApiFile, expand, hostsFile, istioProxy, resolvConf, runsHere, standInFor } from "./pod-spec";

/** The prefix of every pod's network namespace (`down` removes them all). */
export const POD_NETNS_PREFIX = "istio-mc-pod-";

/** Where pilot-agent writes the workload certificate, and the bootstrap with its node (relative to the pod's directory). */
export const AGENT_FILES = { certs: "./etc/istio/proxy/certs", bootstrap: "./etc/istio/proxy/grpc-bootstrap.json", xds: "./etc/istio/proxy/XDS" } as const;

/** A pod's network namespace and its veth's name in the environment's namespace (at most 15 characters). */
export function sandboxNames(uid: string): { netns: string; veth: string } {
    const id = uid.replace(/-/g, "").slice(0, 12);
    return { netns: `${POD_NETNS_PREFIX}${id}`, veth: `p${id}` };
}

export interface KubeletDirs {
    /** Pod directories: `<pods>/<cluster>/<namespace>/<name>`. */
    readonly pods: string;
    /** The toolchain's binaries. */
    readonly bin: string;
    /** Copies of the data-plane binaries any user may run (the toolchain's cache may sit in root's home). */
    readonly images: string;
    readonly logs: string;
}

/** The command line that runs `argv` in a pod's network namespace as a container's user (its /etc/hosts and resolv.conf bound by `ip netns exec`). */
export function inPod(netns: string, user: number, group: number, argv: readonly string[]): string[] {
    return ["netns", "exec", netns, "setpriv", `--reuid=${user}`, `--regid=${group}`, "--clear-groups", "--", ...argv];
}

function ip(...args: string[]): void {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.status !== 0 && !/File exists/.test(r.stderr)) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
}

interface Sandbox {
    readonly netns: string;
    readonly veth: string;
    readonly podIP: string;
    readonly dir: string;
    readonly pod: string;
    ready: boolean; // volumes made
    hosts?: string; // what /etc/hosts says now (its padding aside)
}

export class Kubelet {
    private readonly sandboxes = new Map<string, Sandbox>(); // by pod uid
    private readonly containers: Containers;

    constructor(
        private readonly cluster: SimCluster,
        private readonly core: CoreV1Api,
        private readonly dirs: KubeletDirs,
        private readonly log: (line: string) => void,
    ) {
        this.containers = new Containers((line) => log(`${cluster.name}: ${line}`));
    }

    async sync(pods: readonly V1Pod[], services: readonly V1Service[]): Promise<void> {
        const live = new Map(pods.filter(runsHere).map((p) => [p.metadata?.uid ?? "", p]));
        for (const [uid, sandbox] of this.sandboxes) if (!live.has(uid)) this.remove(uid, sandbox);
        for (const [uid, pod] of live) {
            try {
                await this.run(uid, pod, services);
            } catch (e) {
                this.log(`${this.cluster.name}: pod ${pod.metadata?.namespace}/${pod.metadata?.name}: ${e instanceof Error ? e.message : String(e)}`);
            }
        }
    }

    stopAll(): void {
        this.containers.stopAll();
    }

    private async run(uid: string, pod: V1Pod, services: readonly V1Service[]): Promise<void> {
        const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
        let sandbox = this.sandboxes.get(uid);
        if (!sandbox) {
            sandbox = this.createSandbox(uid, pod);
            this.sandboxes.set(uid, sandbox);
        }
        // Rewritten in place (`ip netns exec` bind-mounts this very file as the pod's /etc/hosts), in one
        // write and never shorter, so that a lookup reading it meanwhile never sees it empty.
        const hosts = path.join("/etc/netns", sandbox.netns, "hosts");
        const text = hostsFile(pod, services);
        if (sandbox.hosts !== text) {
            const old = fs.readFileSync(hosts, "utf8");
            const fd = fs.openSync(hosts, "r+");
            fs.writeSync(fd, text.length < old.length ? text + "#".padEnd(old.length - text.length - 1, " ") + "\n" : text, 0);
            fs.closeSync(fd);
            sandbox.hosts = text;
        }
        const proxy = istioProxy(pod);
        if (!sandbox.ready) {
            if (proxy) await this.makeVolumes(pod, proxy, sandbox.dir);
            sandbox.ready = true;
            this.log(`${this.cluster.name}: pod ${name} (${pod.status?.podIP}) has its network namespace ${sandbox.netns} and volumes`);
        }
        const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
        if (proxy) {
            const { user, group } = containerUser(pod, proxy);
            this.containers.ensure(`${name}/istio-proxy`, () => this.agent(pod, proxy, sandbox, user, group), grace);
            this.containers.ensure(`${name}/envoy`, () => this.envoy(pod, sandbox, user, group), grace);
        }
        for (const c of pod.spec?.containers ?? []) {
            const standIn = standInFor(c);
            if (standIn.kind !== "echo-server") continue;
            this.containers.ensure(`${name}/${c.name}`, () => this.echo(pod, sandbox, c.name, standIn.version, standIn.ports, proxy !== undefined), grace);
        }
    }

    private createSandbox(uid: string, pod: V1Pod): Sandbox {
        const { netns, veth } = sandboxNames(uid);
        const podIP = pod.status?.podIP ?? "";
        const dir = path.join(this.dirs.pods, this.cluster.name, pod.metadata?.namespace ?? "", pod.metadata?.name ?? uid);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        fs.mkdirSync(path.join("/etc/netns", netns), { recursive: true });
        fs.writeFileSync(path.join("/etc/netns", netns, "hosts"), "");
        fs.writeFileSync(path.join("/etc/netns", netns, "resolv.conf"), resolvConf(pod.metadata?.namespace ?? "default"));
        ip("netns", "add", netns);
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns);
        ip("-n", netns, "link", "set", "lo", "up");
        ip("-n", netns, "addr", "add", `${podIP}/32`, "dev", "eth0");
        ip("-n", netns, "link", "set", "eth0", "up");
        ip("-n", netns, "route", "add", "default", "dev", "eth0");
        ip("link", "set", veth, "up");
        fs.writeFileSync(`/proc/sys/net/ipv4/conf/${veth}/proxy_arp`, "1");
        // More specific than the namespace's local 10.0.0.0/8: the pod's address now lives in its own namespace.
        // Replaced, not added: a new pod may get the address of one whose namespace is still going.
        ip("route", "replace", `${podIP}/32`, "dev", veth, "table", "local");
        const proxy = istioProxy(pod);
        if (proxy && !proxy.args?.includes("router")) {
            // Outbound capture, as istio-iptables does it by owner: the Service range is local to the pod
            // (where the Envoy stand-in listens) for every user but the proxy's, whose connections to it
            // leave by the main table (the local table's rule moves after that exception).
            const user = String(containerUser(pod, proxy).user);
            // What leaves from a Service address is the stand-in answering a captured connection: it stays here.
            ip("-n", netns, "rule", "add", "pref", "90", "from", this.cluster.serviceCIDR, "lookup", "local");
            ip("-n", netns, "rule", "add", "pref", "100", "uidrange", `${user}-${user}`, "to", this.cluster.serviceCIDR, "lookup", "main");
            ip("-n", netns, "rule", "add", "pref", "150", "lookup", "local");
            ip("-n", netns, "rule", "del", "pref", "0");
            ip("-n", netns, "route", "add", "local", this.cluster.serviceCIDR, "dev", "lo", "table", "local");
            // Replies from Service addresses to the proxy's own connections: local here, so accepted as such;
            // and the stand-in binds the Service addresses' ports (Envoy needs no bind for them), low ones too.
            spawnSync("ip", ["netns", "exec", netns, "sysctl", "-qw", "net.ipv4.conf.eth0.accept_local=1", "net.ipv4.ip_unprivileged_port_start=0"]);
        }
        return { netns, veth, podIP, dir, pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, ready: false };
    }

    private remove(uid: string, sandbox: Sandbox): void {
        for (const key of this.containers.keys()) if (key.startsWith(`${sandbox.pod}/`)) this.containers.stop(key);
        this.sandboxes.delete(uid);
        // The address is free again at once (the next pod, or istiod, may get it): no route into this sandbox stays.
        spawnSync("ip", ["route", "del", `${sandbox.podIP}/32`, "dev", sandbox.veth, "table", "local"]);
        // The namespace goes once its processes have; its veth and the route through it go with it.
        setTimeout(() => {
            spawnSync("ip", ["netns", "del", sandbox.netns]);
            fs.rmSync(path.join("/etc/netns", sandbox.netns), { recursive: true, force: true });
        }, 35_000).unref();
        this.log(`${this.cluster.name}: pod ${sandbox.pod} is gone: stopping its containers`);
    }

    /** The volumes `container` mounts, at their mount paths under the pod's directory. Throws while one cannot be made yet. */
    private async makeVolumes(pod: V1Pod, container: V1Container, dir: string): Promise<void> {
        const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
        for (const mount of container.volumeMounts ?? []) {
            const volume = volumes.get(mount.name);
            if (!volume) continue;
            const target = path.join(dir, mount.mountPath);
            fs.mkdirSync(target, { recursive: true });
            for (const [file, content] of Object.entries(await this.volumeFiles(pod, volume))) {
                fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
                fs.writeFileSync(path.join(target, file), content, { mode: 0o644 });
            }
        }
        const { user, group } = containerUser(pod, container);
        spawnSync("chown", ["-R", `${user}:${group}`, dir]);
    }

    private async volumeFiles(pod: V1Pod, volume: V1Volume): Promise<Record<string, string>> {
        const namespace = pod.metadata?.namespace ?? "default";
        const configMap = async (name: string, items?: readonly { key: string; path: string }[], optional?: boolean) => {
            const cm = await this.core.readNamespacedConfigMap({ name, namespace }).catch((e: unknown) => {
                if (optional) return undefined;
                throw new Error(`waiting for ConfigMap ${namespace}/${name} (${(e as { code?: number }).code ?? String(e)})`);
            });
            const data = cm?.data ?? {};
            return Object.fromEntries((items ?? Object.keys(data).map((key) => ({ key, path: key }))).map((i) => [i.path, data[i.key] ?? ""]));
        };
        const downward = (items: readonly { path: string; fieldRef?: { fieldPath: string } }[]) =>
            Object.fromEntries(
                items.map((i) => {
                    const f = i.fieldRef?.fieldPath ?? "";
                    if (f === "metadata.labels") return [i.path, downwardApiFile(pod.metadata?.labels)];
                    if (f === "metadata.annotations") return [i.path, downwardApiFile(pod.metadata?.annotations)];
                    if (f === "metadata.name") return [i.path, pod.metadata?.name ?? ""];
                    if (f === "metadata.namespace") return [i.path, namespace];
                    return [i.path, ""];
                }),
            );
        if (volume.configMap) return configMap(volume.configMap.name ?? "", volume.configMap.items, volume.configMap.optional);
        if (volume.downwardAPI) return downward(volume.downwardAPI.items ?? []);
        if (volume.projected) {
            const files: Record<string, string> = {};
            for (const source of volume.projected.sources ?? []) {
                if (source.serviceAccountToken) {
                    const t = source.serviceAccountToken;
                    files[t.path] = await this.token(pod, t.audience, t.expirationSeconds);
                }
                if (source.configMap) Object.assign(files, await configMap(source.configMap.name ?? "", source.configMap.items, source.configMap.optional));
                if (source.downwardAPI) Object.assign(files, downward(source.downwardAPI.items ?? []));
            }
            return files;
        }
        return {}; // emptyDir: the directory itself
    }

    /** A token for the pod's service account, bound to the pod, as a kubelet requests it for a projected volume. */
    private async token(pod: V1Pod, audience: string | undefined, expirationSeconds: number | undefined): Promise<string> {
        const r = await this.core.createNamespacedServiceAccountToken({
            name: pod.spec?.serviceAccountName ?? "default",
            namespace: pod.metadata?.namespace ?? "default",
            body: {
                spec: {
                    audiences: audience ? [audience] : [],
                    expirationSeconds: expirationSeconds ?? 3600,
                    boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata?.name, uid: pod.metadata?.uid },
                },
            },
        });
        return r.status?.token ?? "";
    }

    /** A data-plane binary where any user can run it (copied once from the toolchain). */
    private image(binary: string): string {
        const source = path.join(this.dirs.bin, binary);
        const target = path.join(this.dirs.images, `${binary}-${Math.round(fs.statSync(source).mtimeMs)}`);
        if (!fs.existsSync(target)) {
            fs.mkdirSync(this.dirs.images, { recursive: true, mode: 0o755 });
            fs.copyFileSync(source, `${target}.tmp`);
            fs.chmodSync(`${target}.tmp`, 0o755);
            fs.renameSync(`${target}.tmp`, target);
        }
        return target;
    }

    private spawnInPod(sandbox: Sandbox, container: string, user: number, group: number, argv: string[], env: Record<string, string>) {
        const logFile = containerLogFile(this.dirs.logs, this.cluster.name, sandbox.pod, container);
        fs.mkdirSync(path.dirname(logFile), { recursive: true });
        const out = fs.openSync(logFile, "a");
        const child = spawn("ip", inPod(sandbox.netns, user, group, argv), {
            cwd: sandbox.dir,
            env: { PATH: process.env.PATH ?? "", HOME: sandbox.dir, ...env },
            stdio: ["ignore", out, out],
        });
        fs.closeSync(out);
        this.log(`${this.cluster.name}: pod ${sandbox.pod}: started ${container} (pid ${child.pid}, log ${path.relative(this.dirs.logs, logFile)})`);
        return child;
    }

    private agent(pod: V1Pod, proxy: V1Container, sandbox: Sandbox, user: number, group: number) {
        const env = containerEnv(pod, proxy);
        const binary = binaryForImage("pilot-agent", proxy.image, fs.readdirSync(this.dirs.bin));
        const args = (proxy.args ?? []).map((a) => expand(a, env));
        fs.mkdirSync(path.join(sandbox.dir, AGENT_FILES.certs), { recursive: true });
        spawnSync("chown", ["-R", `${user}:${group}`, path.join(sandbox.dir, "etc")]);
        return this.spawnInPod(sandbox, "istio-proxy", user, group, [this.image(binary), ...args], {
            ...env,
            // Envoy cannot run here: the agent fetches the certificate itself and writes it to files, and
            // writes the node it would give Envoy to a bootstrap file, for the Envoy stand-in.
            DISABLE_ENVOY: "true",
            OUTPUT_CERTS: AGENT_FILES.certs,
            GRPC_XDS_BOOTSTRAP: AGENT_FILES.bootstrap,
            // The simulated node is on no cloud: the agent asks no metadata server.
            CLOUD_PLATFORM: "none",
        });
    }

    private envoy(pod: V1Pod, sandbox: Sandbox, user: number, group: number) {
        return this.spawnInPod(sandbox, "envoy", user, group, [
            this.image("envoy-stand-in"),
            `--pod-ip=${pod.status?.podIP}`,
            `--bootstrap=${AGENT_FILES.bootstrap}`,
            `--xds=${AGENT_FILES.xds}`,
            `--certs=${AGENT_FILES.certs}`,
            "--stats=./envoy-stand-in.stats.json",
        ], {});
    }

    private echo(pod: V1Pod, sandbox: Sandbox, container: string, version: string, ports: readonly number[], sidecar: boolean) {
        const list = ports.join(",");
        // With a sidecar the app binds localhost: the pod's address is the inbound stand-in's (no kernel redirection here).
        return this.spawnInPod(sandbox, container, 0, 0, [
            "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', pod.metadata?.name ?? "pod",
            this.image("echo-server"), `--port=${list}`, ...(sidecar ? [`--bind-localhost=${list}`] : []), `--version=${version}`, `--cluster=${this.cluster.name}`,
        ], {});
    }
}
