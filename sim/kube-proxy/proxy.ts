/**
 * The environment's kube-proxy, in kube-proxy's old userspace mode: for every Service of a cluster,
 * a listener on its ClusterIP and on each load-balancer address at each port, passing connections to
 * a ready endpoint of the Service's EndpointSlices (round robin), bytes untouched. Every cluster's
 * Services live in the environment's one network namespace, each cluster with a range of its own
 * (`serviceCIDR`). Not proven here: iptables/IPVS rules, session affinity, NodePorts, UDP.
 */
import * as net from "node:net";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";

/** An address and port. */
export interface HostPort {
    readonly address: string;
    readonly port: number;
}

/** Where each Service frontend (`address:port`) sends connections: its ready endpoints. */
export type ServiceTable = ReadonlyMap<string, readonly HostPort[]>;

export const hostPort = (h: HostPort) => `${h.address}:${h.port}`;

/**
 * The frontends of `services` (ClusterIP and load-balancer addresses, each port) and their ready
 * endpoints, as kube-proxy computes them: a slice's port is the Service port's by name.
 */
export function serviceTable(services: readonly V1Service[], slices: readonly V1EndpointSlice[]): ServiceTable {
    const table = new Map<string, HostPort[]>();
    for (const s of services) {
        const name = s.metadata?.name;
        const namespace = s.metadata?.namespace;
        const clusterIP = s.spec?.clusterIP;
        if (!name || !clusterIP || clusterIP === "None") continue;
        const own = slices.filter((x) => x.metadata?.namespace === namespace && x.metadata?.labels?.["kubernetes.io/service-name"] === name);
        const frontends = [clusterIP, ...(s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => Boolean(ip))];
        for (const p of s.spec?.ports ?? []) {
            if ((p.protocol ?? "TCP") !== "TCP") continue;
            const endpoints = own.flatMap((slice) => {
                const port = (slice.ports ?? []).find((x) => (x.name ?? "") === (p.name ?? ""))?.port;
                if (port === undefined) return [];
                return (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false && e.addresses.length > 0).map((e) => ({ address: e.addresses[0], port }));
            });
            for (const address of frontends) table.set(hostPort({ address, port: p.port }), endpoints);
        }
    }
    return table;
}

/** Listeners for a table, kept in step with it: `update` binds new frontends and closes gone ones. */
export class KubeProxy {
    private table: ServiceTable = new Map();
    private readonly listeners = new Map<string, net.Server>();
    private readonly next = new Map<string, number>();

    constructor(private readonly log: (line: string) => void) {}

    update(table: ServiceTable): void {
        this.table = table;
        for (const [frontend, server] of this.listeners) {
            if (!table.has(frontend)) {
                server.close();
                this.listeners.delete(frontend);
            }
        }
        for (const frontend of table.keys()) {
            if (this.listeners.has(frontend)) continue;
            const [address, port] = [frontend.slice(0, frontend.lastIndexOf(":")), Number(frontend.slice(frontend.lastIndexOf(":") + 1))];
            const server = net.createServer((client) => this.forward(frontend, client));
            server.on("error", (e) => this.log(`kube-proxy ${frontend}: ${String(e)}`));
            server.listen(port, address);
            this.listeners.set(frontend, server);
        }
    }

    private forward(frontend: string, client: net.Socket): void {
        const endpoints = this.table.get(frontend) ?? [];
        if (endpoints.length === 0) {
            client.destroy(); // as a Service without ready endpoints refuses
            return;
        }
        const n = (this.next.get(frontend) ?? 0) + 1;
        this.next.set(frontend, n);
        const target = endpoints[n % endpoints.length];
        const upstream = net.connect(target.port, target.address);
        const close = () => {
            client.destroy();
            upstream.destroy();
        };
        upstream.on("error", close);
        client.on("error", close);
        client.pipe(upstream).pipe(client);
    }
}
