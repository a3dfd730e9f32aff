/**
 * The environment's long-running part (started by `npm run sim -- up`, inside the namespace):
 * - gives Services of type LoadBalancer an address from their cluster's range, as
 *   cloud-provider-kind does on kind;
 * - runs `pilot-discovery` for each of the primary's istiod pods (one per revision) while kwok reports
 *   it running, and stops it when the pod goes (a Helm upgrade replaces it), keeping each process's log;
 *   one that exits while its pod is there is started again, as a kubelet restarts a container of a pod
 *   with `restartPolicy: Always` (after a back-off that doubles from 10 s, as the kubelet's does);
 * - passes TLS through the primary's network gateway address to istiod by SNI, as the program's
 *   VirtualServices route it (sim/gateway.ts).
 * Polls the API servers each second; state is what the clusters hold, so a restart resumes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type V1Service } from "@kubernetes/client-node";
import { NETWORK_GATEWAY } from "../lib/istio-values";
import { type Resolve, type TlsRoutes, startRouter } from "./gateway";
import { isStartable, istiodBinary, istiodProcess } from "./istiod";
import { type SimCluster, loadBalancerAddress } from "./topology";
import { kubeConfigOf, readState } from "./state";

const POLL_MS = 1000;

const ingressIp = (s: V1Service) => s.status?.loadBalancer?.ingress?.[0]?.ip;

/** The ports remotes reach istiod on through the primary's network gateway (webhooks, xDS and CA). */
const ISTIOD_GATEWAY_PORTS = [15012, 15017];

/** A Service host (`<name>.<namespace>.svc…`) and port, as a ready endpoint's address and target port. */
function endpointResolver(core: CoreV1Api, discovery: DiscoveryV1Api): Resolve {
    return async ({ host, port }) => {
        const [name, namespace] = host.split(".");
        const service = await core.readNamespacedService({ name, namespace });
        const servicePort = service.spec?.ports?.find((p) => p.port === port);
        const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${name}` });
        const endpoint = slices.items.flatMap((s) => s.endpoints ?? []).find((e) => e.conditions?.ready !== false && e.addresses.length > 0);
        const target = servicePort?.targetPort;
        if (!endpoint || servicePort === undefined) return undefined;
        return { address: endpoint.addresses[0], port: typeof target === "number" ? target : Number(target ?? port) || port };
    };
}

/**
 * Gives every LoadBalancer Service without an address the next free one of its cluster; returns every
 * Service's load-balancer address, by `namespace/name`.
 */
async function assignLoadBalancers(core: CoreV1Api, cluster: SimCluster, log: (line: string) => void): Promise<Map<string, string>> {
    const services = (await core.listServiceForAllNamespaces()).items;
    const key = (x: V1Service) => `${x.metadata?.namespace}/${x.metadata?.name}`;
    const addresses = new Map<string, string>();
    for (const x of services) {
        const ip = ingressIp(x);
        if (ip) addresses.set(key(x), ip);
    }
    const used = new Set(addresses.values());
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
        addresses.set(key(s), ip);
        log(`${cluster.name}: Service ${key(s)} gets load-balancer address ${ip}`);
    }
    return addresses;
}

async function main(): Promise<void> {
    const state = readState();
    const primary = state.clusters[0];
    const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
    const istiods = new Map<string, { child: ChildProcess; pod: string; graceSeconds: number }>(); // by pod uid
    const restarts = new Map<string, { count: number; notBefore: number }>(); // by pod uid: crashed processes

    const stopAll = () => {
        for (const { child } of istiods.values()) child.kill("SIGTERM");
        process.exit(0);
    };
    process.on("SIGTERM", stopAll);
    process.on("SIGINT", stopAll);

    const cores = new Map(state.clusters.map((c) => [c.name, kubeConfigOf(state, c).makeApiClient(CoreV1Api)]));
    const primaryConfig = kubeConfigOf(state, primary);
    const primaryKubeconfig = primaryConfig.exportConfig();
    const customObjects = primaryConfig.makeApiClient(CustomObjectsApi);
    const virtualServices = async () =>
        ((await customObjects.listNamespacedCustomObject({ group: "networking.istio.io", version: "v1", namespace: "istio-system", plural: "virtualservices" })) as { items: TlsRoutes[] }).items;
    const resolve = endpointResolver(cores.get(primary.name) as CoreV1Api, primaryConfig.makeApiClient(DiscoveryV1Api));
    const routed = new Set<string>(); // gateway addresses with a router
    const binaries = fs.readdirSync(state.binDir);
    log(`supervising ${state.clusters.map((c) => c.name).join(", ")}`);
    for (;;) {
        let gateway: string | undefined; // the primary's network gateway address
        for (const cluster of state.clusters) {
            const addresses = await assignLoadBalancers(cores.get(cluster.name) as CoreV1Api, cluster, log).catch((e: unknown) => {
                log(`${cluster.name}: ${String(e)}`);
                return new Map<string, string>();
            });
            if (cluster === primary) gateway = addresses.get(`istio-system/${NETWORK_GATEWAY.name}`);
        }
        try {
            const core = cores.get(primary.name) as CoreV1Api;
            if (gateway && !routed.has(gateway)) {
                startRouter(gateway, ISTIOD_GATEWAY_PORTS, virtualServices, resolve, log);
                routed.add(gateway);
                log(`${primary.name}: routing ${gateway}:{${ISTIOD_GATEWAY_PORTS.join(",")}} to istiod by SNI, as the VirtualServices in istio-system say`);
            }
            const pods = (await core.listNamespacedPod({ namespace: "istio-system", labelSelector: "app=istiod" })).items;
            const live = new Set(pods.filter(isStartable).map((p) => p.metadata?.uid ?? ""));
            for (const [uid, { child, pod, graceSeconds }] of istiods) {
                if (!live.has(uid)) {
                    // As a kubelet stops a container: SIGTERM, then SIGKILL once the pod's grace period is over.
                    log(`istiod pod ${pod} is gone: stopping pilot-discovery (pid ${child.pid}; SIGKILL after ${graceSeconds} s)`);
                    child.kill("SIGTERM");
                    setTimeout(() => {
                        if (child.exitCode === null && child.signalCode === null) {
                            log(`pilot-discovery for ${pod} still runs after ${graceSeconds} s: SIGKILL`);
                            child.kill("SIGKILL");
                        }
                    }, graceSeconds * 1000).unref();
                    istiods.delete(uid);
                }
            }
            for (const uid of restarts.keys()) if (!live.has(uid)) restarts.delete(uid); // its pod went: no back-off to keep
            for (const pod of pods.filter(isStartable)) {
                const uid = pod.metadata?.uid ?? "";
                if (istiods.has(uid) || Date.now() < (restarts.get(uid)?.notBefore ?? 0)) continue;
                const name = pod.metadata?.name ?? uid;
                const workDir = path.join(state.dir, "istiod", name);
                fs.mkdirSync(path.join(workDir, "cacerts"), { recursive: true });
                // The environment's kubeconfig holds every cluster: istiod gets one whose current context is the primary.
                const kubeconfig = path.join(workDir, "kubeconfig");
                fs.writeFileSync(kubeconfig, primaryKubeconfig, { mode: 0o600 });
                const { args, env } = istiodProcess(pod, kubeconfig, path.join(workDir, "cacerts"));
                const out = fs.openSync(path.join(state.logDir, `istiod-${name}.log`), "a");
                // An empty working directory: istiod's default mesh-config and certificate paths are relative.
                const binary = istiodBinary(pod, binaries);
                const child = spawn(path.join(state.binDir, binary), args, {
                    cwd: workDir,
                    env: { PATH: process.env.PATH ?? "", HOME: workDir, ...env },
                    stdio: ["ignore", out, out],
                });
                child.on("exit", (code, signal) => {
                    log(`pilot-discovery for ${name} exited (${signal ?? code})`);
                    // Still this pod's process (not stopped because the pod went): a kubelet restarts it, backing off.
                    if (istiods.get(uid)?.child === child) {
                        istiods.delete(uid);
                        const count = (restarts.get(uid)?.count ?? 0) + 1;
                        const backoff = Math.min(10_000 * 2 ** (count - 1), 300_000);
                        restarts.set(uid, { count, notBefore: Date.now() + backoff });
                        log(`istiod pod ${name}: container exited while the pod runs; restart ${count} in ${backoff / 1000} s (restartPolicy Always)`);
                    }
                });
                istiods.set(uid, { child, pod: name, graceSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30 });
                log(`istiod pod ${name} (${pod.status?.podIP}) is running: started ${binary}, pid ${child.pid}, log logs/istiod-${name}.log`);
            }
        } catch (e) {
            log(`${primary.name}: ${String(e)}`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
    }
}

main().catch((e: unknown) => {
    console.error(`supervisor: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
});
