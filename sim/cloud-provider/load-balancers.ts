/**
 * Where a cloud's load-balancer controller would act (cloud-provider-kind on kind): every Service of
 * type LoadBalancer gets an address from its cluster's range in its status, once. Not simulated: a
 * load balancer of its own (sim/kube-proxy serves the address), health checks, `loadBalancerIP`.
 */
import type { V1Service } from "@kubernetes/client-node";
import { type SimCluster, loadBalancerAddress } from "../topology";

const ingressIp = (s: V1Service) => s.status?.loadBalancer?.ingress?.[0]?.ip;

/** Writes a Service's status (the API's `replaceNamespacedServiceStatus`). */
export type WriteStatus = (name: string, namespace: string, body: V1Service) => Promise<unknown>;

export class LoadBalancers {
    /** Addresses given, by Service uid, until the Services seen show them (a watch may lag a write). */
    private readonly given = new Map<string, string>();

    constructor(
        private readonly cluster: SimCluster,
        private readonly writeStatus: WriteStatus,
        private readonly log: (line: string) => void,
    ) {}

    /** Gives every LoadBalancer Service of `services` (all of the cluster's, as last seen) without an address the next free one. */
    async assign(services: readonly V1Service[]): Promise<void> {
        const uid = (x: V1Service) => x.metadata?.uid ?? "";
        const seen = new Set(services.map(uid));
        for (const [id] of this.given) if (!seen.has(id)) this.given.delete(id);
        for (const s of services) if (ingressIp(s) || s.spec?.type !== "LoadBalancer") this.given.delete(uid(s));
        const used = new Set([...services.map(ingressIp).filter((ip): ip is string => Boolean(ip)), ...this.given.values()]);
        for (const s of services.filter((x) => x.spec?.type === "LoadBalancer" && !ingressIp(x) && !this.given.has(uid(x)))) {
            let n = 1;
            while (used.has(loadBalancerAddress(this.cluster, n))) n++;
            const ip = loadBalancerAddress(this.cluster, n);
            used.add(ip);
            this.given.set(uid(s), ip);
            try {
                await this.writeStatus(s.metadata?.name ?? "", s.metadata?.namespace ?? "", { ...s, status: { ...s.status, loadBalancer: { ingress: [{ ip, ipMode: "VIP" }] } } });
            } catch (e) {
                this.given.delete(uid(s)); // given again on the next sync
                throw e;
            }
            this.log(`${this.cluster.name}: Service ${s.metadata?.namespace}/${s.metadata?.name} gets load-balancer address ${ip}`);
        }
    }
}
