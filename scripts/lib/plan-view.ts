/**
 * Views of a {@link Plan} for people: what lands on each cluster and what it waits for, and a Mermaid
 * diagram of the mesh like the page's (clusters, networks, gateways, istiod and the cross-network paths).
 */
import type { Plan, PlannedResource } from "./plan";

const isDeclared = (r: PlannedResource) => r.provider !== undefined && r.type !== "pulumi:providers:kubernetes";
const shortType = (type: string) => type.replace(/^kubernetes:/, "").replace(/^helm\.sh\/v3:Release$/, "helm release");

/** One text table per cluster: resource, type, and the resources it waits for. */
export function clusterTables(plan: Plan): string {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    const clusters = [...new Set(plan.resources.filter(isDeclared).map((r) => r.provider as string))];
    return clusters
        .map((cluster) => {
            const rows = plan.resources
                .filter((r) => isDeclared(r) && r.provider === cluster)
                .map((r) => [
                    r.read ? `${r.name} (read)` : r.name,
                    shortType(r.type),
                    r.dependencies
                        .map((u) => byUrn.get(u))
                        .filter((d): d is PlannedResource => d !== undefined && isDeclared(d))
                        .map((d) => (d.provider === cluster ? d.name : `${d.name} @${d.provider}`))
                        .join(", ") || "-",
                ]);
            const header = ["resource", "type", "waits for"];
            const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
            const line = (cells: string[]) => cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i]) : c)).join("  ");
            return [`## ${cluster}`, "", line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
        })
        .join("\n\n");
}

interface MeshCluster {
    readonly name: string;
    readonly network: string;
    readonly primary: boolean;
    /** A remote's primary (`topology.istio.io/controlPlaneClusters` of its `istio-system`). */
    readonly controlPlane?: string;
}

/** The clusters of a planned mesh: names and networks from their `istio-system` namespaces; primaries run a full istiod. */
export function meshClusters(plan: Plan): MeshCluster[] {
    return plan.resources
        .filter((r) => r.type === "kubernetes:core/v1:Namespace" && (r.inputs.metadata as { name?: string })?.name === "istio-system")
        .map((ns) => {
            const metadata = ns.inputs.metadata as { labels?: Record<string, string>; annotations?: Record<string, string> };
            const istiod = plan.resources.find(
                (r) => r.provider === ns.provider && r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.chart === "istiod",
            );
            const profile = (istiod?.inputs.values as { profile?: string } | undefined)?.profile;
            const controlPlane = metadata.annotations?.["topology.istio.io/controlPlaneClusters"];
            return {
                name: ns.provider as string,
                network: metadata.labels?.["topology.istio.io/network"] ?? "",
                primary: istiod !== undefined && profile !== "remote",
                ...(controlPlane !== undefined ? { controlPlane } : {}),
            };
        });
}

/** Which clusters each istiod watches: the remote secrets on its cluster, by `networking.istio.io/cluster`. */
function watchEdges(plan: Plan): [string, string][] {
    return plan.resources
        .filter((r) => r.type === "kubernetes:core/v1:Secret" && (r.inputs.metadata as { labels?: Record<string, string> }).labels?.["istio/multiCluster"] === "true")
        .map((r) => [r.provider ?? "", (r.inputs.metadata as { annotations?: Record<string, string> }).annotations?.["networking.istio.io/cluster"] ?? ""]);
}

const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");

/** A Mermaid flowchart of the mesh, whatever its shape: primaries, remotes under them, who watches whom, the cross-network paths. */
export function meshDiagram(plan: Plan): string {
    const clusters = meshClusters(plan);
    if (!clusters.some((c) => c.primary)) return "flowchart LR\n  none[\"no primary cluster in this plan\"]";
    const lines = ["flowchart LR"];
    for (const c of clusters) {
        const n = id(c.name);
        lines.push(
            `  subgraph ${n}["${c.name} · ${c.network} (${c.primary ? "primary" : `remote of ${c.controlPlane ?? "?"}`})"]`,
            `    ${n}_api["API server"]`,
            ...(c.primary
                ? [`    ${n}_istiod["istiod<br/>meshNetworks: every network"]`, `    ${n}_gw["istio-eastwestgateway<br/>15443 · 15012 · 15017"]`, `    ${n}_gw -->|"15012 / 15017 passthrough"| ${n}_istiod`]
                : [`    ${n}_webhook["injector webhook · istiod Service<br/>(istiod chart, remote profile)"]`, `    ${n}_gw["istio-eastwestgateway<br/>15443"]`]),
            "  end",
        );
        if (!c.primary && c.controlPlane !== undefined) {
            const p = id(c.controlPlane);
            lines.push(`  ${n}_webhook -->|"remotePilotAddress"| ${p}_gw`, `  ${n}_gw -->|"xDS and certificates"| ${p}_gw`);
        }
    }
    for (const [watcher, watched] of watchEdges(plan)) lines.push(`  ${id(watcher)}_istiod -->|"istio-remote-secret-${watched}"| ${id(watched)}_api`);
    // One cross-network path per pair of networks, between their first gateways; on one network, pods reach each other directly.
    const firstOf = new Map<string, MeshCluster>();
    for (const c of clusters) if (!firstOf.has(c.network)) firstOf.set(c.network, c);
    const networks = [...firstOf.values()];
    for (const [i, a] of networks.entries()) {
        for (const b of networks.slice(i + 1)) lines.push(`  ${id(a.name)}_gw <-->|"15443 mTLS by SNI *.local"| ${id(b.name)}_gw`);
    }
    return lines.join("\n");
}
