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
 * Watches each API server's Services, EndpointSlices and Pods (informers, as a kubelet and kube-proxy
 * do) and syncs a cluster on each change, and each second for what is due by time (a container's
 * restart back-off); state is what the clusters hold, so a restart resumes.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ADD, CoreV1Api, DELETE, DiscoveryV1Api, ERROR, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache, UPDATE, type V1EndpointSlice, type V1Pod, type V1Service, makeInformer } from "@kubernetes/client-node";
import { LoadBalancers } from "./cloud-provider/load-balancers";
import { isStartable, istiodBinary, istiodProcess } from "./istiod";
import { KubeProxy, serviceTable } from "./kube-proxy/proxy";
import { Containers } from "./kubelet/containers";
import { Kubelet } from "./kubelet/kubelet";
import type { SimCluster } from "./topology";
import { kubeConfigOf, readState } from "./state";

/** Each cluster is synced this often besides on changes: for what is due by time. */
const RESYNC_MS = 1000;

/**
 * A cache of `path`'s objects kept by a watch (an informer), listed again a second after an error
 * (its API server down, a watch that failed); `on.change` on every change, `on.listed` after each
 * listing is in the cache (the first says the cache is the cluster's, not just empty).
 */
function watchedCache<T extends KubernetesObject>(
    kc: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    on: { listed: () => void; change: () => void; log: (line: string) => void },
): ObjectCache<T> {
    // The informer fills its cache right after the listing resolves: `listed` runs after that.
    const informer = makeInformer<T>(kc, path, () => list().then((l) => (setImmediate(on.listed), l)));
    for (const verb of [ADD, UPDATE, DELETE] as const) informer.on(verb, on.change);
    let retrying = false;
    const retry = (e?: unknown) => {
        if (retrying) return;
        retrying = true;
        on.log(`${path}: ${String(e)}: listing again in 1 s`);
        setTimeout(() => {
            retrying = false;
            informer.start().catch(retry);
        }, 1000);
    };
    informer.on(ERROR, retry);
    informer.start().catch(retry);
    return informer;
}

/** Runs `work` now, or once more after the run in progress if called meanwhile (never two at once). */
function serialized(work: () => Promise<void>): () => void {
    let running = false;
    let again = false;
    const run = (): void => {
        if (running) {
            again = true;
            return;
        }
        running = true;
        void work().finally(() => {
            running = false;
            if (again) {
                again = false;
                run();
            }
        });
    };
    return run;
}

function main(): void {
    const state = readState();
    const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
    const istiods = new Containers(log); // by istiod pod (<cluster>/<pod>): its pilot-discovery
    // Pods have namespaces of their own now: this one forwards between them, as a node does.
    fs.writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");

    // The environment's kubeconfig holds every cluster: each istiod gets one whose current context is its own cluster.
    const kubeconfigs = new Map(state.clusters.map((c) => [c.name, kubeConfigOf(state, c).exportConfig()]));
    const binaries = fs.readdirSync(state.binDir);
    log(`supervising ${state.clusters.map((c) => c.name).join(", ")}`);
    const clusters = state.clusters.map((cluster) => {
        const kc = kubeConfigOf(state, cluster);
        const core = kc.makeApiClient(CoreV1Api);
        const discovery = kc.makeApiClient(DiscoveryV1Api);
        const dirs = { pods: path.join(state.dir, "pods"), bin: state.binDir, images: path.join(state.dir, "images"), logs: state.logDir };
        const kubeProxy = new KubeProxy(log);
        const kubelet = new Kubelet(cluster, core, dirs, log);
        const loadBalancers = new LoadBalancers(cluster, (name, namespace, body) => core.replaceNamespacedServiceStatus({ name, namespace, body }), log);
        const sync = serialized(async () => {
            try {
                const [services, slices, pods] = [watched.services.list(), watched.slices.list(), watched.pods.list()];
                await loadBalancers.assign(services);
                kubeProxy.update(serviceTable(services, slices));
                await kubelet.sync(pods, services);
                // Every cluster running istiod (the primaries; a remote's istiod chart has no Deployment).
                runIstiods(cluster, pods.filter((p) => p.metadata?.namespace === "istio-system" && p.metadata.labels?.app === "istiod"));
            } catch (e) {
                log(`${cluster.name}: ${String(e)}`);
            }
        });
        // Synced once every cache has had its first listing: an empty cache is not an empty cluster.
        const unlisted = new Set(["services", "slices", "pods"]);
        const on = (what: string) => ({
            listed: () => {
                if (unlisted.delete(what) && unlisted.size === 0) setInterval(sync, RESYNC_MS);
                if (unlisted.size === 0) sync();
            },
            change: () => {
                if (unlisted.size === 0) sync();
            },
            log: (line: string) => log(`${cluster.name}: ${line}`),
        });
        const watched = {
            services: watchedCache<V1Service>(kc, "/api/v1/services", () => core.listServiceForAllNamespaces(), on("services")),
            slices: watchedCache<V1EndpointSlice>(kc, "/apis/discovery.k8s.io/v1/endpointslices", () => discovery.listEndpointSliceForAllNamespaces(), on("slices")),
            pods: watchedCache<V1Pod>(kc, "/api/v1/pods", () => core.listPodForAllNamespaces(), on("pods")),
        };
        return { kubelet };
    });

    const stopAll = () => {
        istiods.stopAll();
        for (const c of clusters) c.kubelet.stopAll();
        process.exit(0);
    };
    process.on("SIGTERM", stopAll);
    process.on("SIGINT", stopAll);

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

try {
    main();
} catch (e: unknown) {
    console.error(`supervisor: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
}
