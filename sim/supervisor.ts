/**
 * The environment's long-running part (started by `npm run sim -- up`, inside the namespace), for
 * every cluster:
 * - gives Services of type LoadBalancer an address from their cluster's range, as
 *   cloud-provider-kind does on kind;
 * - serves every Service's ClusterIP and load-balancer addresses (sim/kube-proxy);
 * - runs the data plane's pods: the sample's and the network gateways' (sim/kubelet), each with
 *   its real pilot-agent and the Envoy stand-in (sim/envoy);
 * - on the primary, runs `pilot-discovery` for each istiod pod (one per revision) while kwok reports
 *   it running, and stops it when the pod goes (a Helm upgrade replaces it), keeping each process's
 *   log; one that exits while its pod is there is started again, as a kubelet restarts a container of
 *   a pod with `restartPolicy: Always`.
 * Polls the API servers each second; state is what the clusters hold, so a restart resumes.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CoreV1Api, DiscoveryV1Api, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { isStartable, istiodBinary, istiodProcess } from "./istiod";
import { KubeProxy, serviceTable } from "./kube-proxy/proxy";
import { Containers } from "./kubelet/containers";
import { Kubelet } from "./kubelet/kubelet";
import { type SimCluster, loadBalancerAddress } from "./topology";
import { kubeConfigOf, readState } from "./state";

const POLL_MS = 1000;

const ingressIp = (s: V1Service) => s.status?.loadBalancer?.ingress?.[0]?.ip;

/** Gives every LoadBalancer Service of `services` without an address the next free one of its cluster. */
async function assignLoadBalancers(core: CoreV1Api, cluster: SimCluster, services: readonly V1Service[], log: (line: string) => void): Promise<void> {
    const key = (x: V1Service) => `${x.metadata?.namespace}/${x.metadata?.name}`;
    const used = new Set(services.map(ingressIp).filter((ip): ip is string => Boolean(ip)));
    for (const s of services.filter((x) => x.spec?.type === "LoadBalancer" && !ingressIp(x))) {
        let n = 1;
        while (used.has(loadBalancerAddress(cluster, n))) n++;
        const ip = loadBalancerAddress(cluster, n);
        used.add(ip);
        await core.replaceNamespacedServiceStatus({
            name: s.metadata?.name ?? "",
            namespace: s.metadata?.namespace ?? "",
            body: { ...s, status: { ...s.status, loadBalancer: { ingress: [{ ip, ipMode: "VIP" }] } } },
        });
        log(`${cluster.name}: Service ${key(s)} gets load-balancer address ${ip}`);
    }
}

async function main(): Promise<void> {
    const state = readState();
    const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
    const istiods = new Containers(log); // by istiod pod (<cluster>/<pod>): its pilot-discovery
    const clusters = state.clusters.map((cluster) => {
        const kc = kubeConfigOf(state, cluster);
        const core = kc.makeApiClient(CoreV1Api);
        const dirs = { pods: path.join(state.dir, "pods"), bin: state.binDir, images: path.join(state.dir, "images"), logs: state.logDir };
        return { cluster, core, discovery: kc.makeApiClient(DiscoveryV1Api), kubeProxy: new KubeProxy(log), kubelet: new Kubelet(cluster, core, dirs, log) };
    });

    const stopAll = () => {
        istiods.stopAll();
        for (const c of clusters) c.kubelet.stopAll();
        process.exit(0);
    };
    process.on("SIGTERM", stopAll);
    process.on("SIGINT", stopAll);
    // Pods have namespaces of their own now: this one forwards between them, as a node does.
    fs.writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");

    // The environment's kubeconfig holds every cluster: each istiod gets one whose current context is its own cluster.
    const kubeconfigs = new Map(state.clusters.map((c) => [c.name, kubeConfigOf(state, c).exportConfig()]));
    const binaries = fs.readdirSync(state.binDir);
    log(`supervising ${state.clusters.map((c) => c.name).join(", ")}`);
    for (;;) {
        for (const { cluster, core, discovery, kubeProxy, kubelet } of clusters) {
            try {
                const [services, slices, pods] = await Promise.all([
                    core.listServiceForAllNamespaces(),
                    discovery.listEndpointSliceForAllNamespaces(),
                    core.listPodForAllNamespaces(),
                ]);
                // Addresses given now are served from the next poll on, when the listing shows them.
                await assignLoadBalancers(core, cluster, services.items, log);
                kubeProxy.update(serviceTable(services.items, slices.items));
                await kubelet.sync(pods.items, services.items);
                // Every cluster running istiod (the primaries; a remote's istiod chart has no Deployment).
                runIstiods(cluster, pods.items.filter((p) => p.metadata?.namespace === "istio-system" && p.metadata.labels?.app === "istiod"));
            } catch (e) {
                log(`${cluster.name}: ${String(e)}`);
            }
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
    }

    /** One pilot-discovery per running istiod pod of `cluster`, stopped when its pod goes. */
    function runIstiods(cluster: SimCluster, pods: readonly V1Pod[]): void {
        const live = new Map(pods.filter(isStartable).map((p) => [`${cluster.name}/${p.metadata?.name ?? ""}`, p]));
        for (const key of istiods.keys()) {
            if (key.startsWith(`${cluster.name}/`) && !live.has(key)) {
                log(`istiod pod ${key} is gone: stopping pilot-discovery`);
                istiods.stop(key);
            }
        }
        for (const [key, pod] of live) {
            const name = pod.metadata?.name ?? "";
            istiods.ensure(
                key,
                () => {
                    const workDir = path.join(state.dir, "istiod", cluster.name, name);
                    fs.mkdirSync(path.join(workDir, "cacerts"), { recursive: true });
                    const kubeconfig = path.join(workDir, "kubeconfig");
                    fs.writeFileSync(kubeconfig, kubeconfigs.get(cluster.name) as string, { mode: 0o600 });
                    const { args, env } = istiodProcess(pod, kubeconfig, path.join(workDir, "cacerts"));
                    const out = fs.openSync(path.join(state.logDir, `istiod-${cluster.name}-${name}.log`), "a");
                    const binary = istiodBinary(pod, binaries);
                    // An empty working directory: istiod's default mesh-config and certificate paths are relative.
                    const child = spawn(path.join(state.binDir, binary), args, {
                        cwd: workDir,
                        env: { PATH: process.env.PATH ?? "", HOME: workDir, ...env },
                        stdio: ["ignore", out, out],
                    });
                    fs.closeSync(out);
                    log(`istiod pod ${name} (${pod.status?.podIP}) is running: started ${binary}, pid ${child.pid}, log logs/istiod-${cluster.name}-${name}.log`);
                    return child;
                },
                pod.spec?.terminationGracePeriodSeconds ?? 30,
            );
        }
    }
}

main().catch((e: unknown) => {
    console.error(`supervisor: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
});
