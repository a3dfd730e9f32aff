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
}

/** The clusters of a planned mesh: names and networks from their `istio-system` namespaces; the primary runs a full istiod. */
export function meshClusters(plan: Plan): MeshCluster[] {
    return plan.resources
        .filter((r) => r.type === "kubernetes:core/v1:Namespace" && (r.inputs.metadata as { name?: string })?.name === "istio-system")
        .map((ns) => {
            const labels = (ns.inputs.metadata as { labels?: Record<string, string> }).labels ?? {};
            const istiod = plan.resources.find(
                (r) => r.provider === ns.provider && r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.chart === "istiod",
            );
            const profile = (istiod?.inputs.values as { profile?: string } | undefined)?.profile;
            return { name: ns.provider as string, network: labels["topology.istio.io/network"], primary: istiod !== undefined && profile !== "remote" };
        });
}

const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");

/** A Mermaid flowchart of the mesh. */
export function meshDiagram(plan: Plan): string {
    const clusters = meshClusters(plan);
    const primary = clusters.find((c) => c.primary);
    if (!primary) return "flowchart LR\n  none[\"no primary cluster in this plan\"]";
    const remotes = clusters.filter((c) => !c.primary);
    const p = id(primary.name);
    const lines = [
        "flowchart LR",
        `  subgraph ${p}["${primary.name} · ${primary.network} (primary)"]`,
        `    ${p}_istiod["istiod<br/>meshNetworks: every network"]`,
        `    ${p}_gw["istio-eastwestgateway<br/>15443 · 15012 · 15017"]`,
        `    ${p}_gw -->|"15012 / 15017 passthrough"| ${p}_istiod`,
        "  end",
    ];
    for (const r of remotes) {
        const c = id(r.name);
        lines.push(
            `  subgraph ${c}["${r.name} · ${r.network} (remote)"]`,
            `    ${c}_api["API server"]`,
            `    ${c}_webhook["injector webhook · istiod Service<br/>(istiod chart, remote profile)"]`,
            `    ${c}_gw["istio-eastwestgateway<br/>15443"]`,
            "  end",
            `  ${c}_webhook -->|"remotePilotAddress"| ${p}_gw`,
            `  ${c}_gw -->|"xDS and certificates"| ${p}_gw`,
            `  ${p}_istiod -->|"istio-remote-secret-${r.name}"| ${c}_api`,
            `  ${p}_gw <-->|"15443 mTLS by SNI *.local"| ${c}_gw`,
        );
    }
    return lines.join("\n");
}
