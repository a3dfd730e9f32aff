/**
 * The plan never contacts a cluster, so it needs no kubeconfig: where a cluster's kubeconfig does not
 * exist at all (a fresh clone, a CI job without credentials), it stands in a kubeconfig holding just
 * that cluster's context, and says what could therefore not be checked. `pulumi up` keeps the strict
 * check (the program itself never takes this path).
 */
import { PROJECT, absentKubeconfig } from "../../lib/config";

/** An RFC 6761 name that never resolves: an API server address nobody could mistake for a real one. */
export const UNREAD_API_SERVER = "https://api-server-from-kubeconfig.invalid";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** One context, one cluster, one user without credentials, as inline kubeconfig text (JSON). */
function standInKubeconfig(context: string, server: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: context, cluster: { server } }],
        users: [{ name: context, user: {} }],
        contexts: [{ name: context, context: { cluster: context, user: context } }],
        "current-context": context,
    });
}

/**
 * The config map with a stand-in kubeconfig for each cluster whose kubeconfig is absent, and one line
 * per such cluster saying what was not checked. Clusters with a kubeconfig are left as they are (and
 * checked as in `pulumi up`).
 */
export function withoutAbsentKubeconfigs(config: Readonly<Record<string, string>>): { config: Record<string, string>; unchecked: string[] } {
    const out: Record<string, string> = { ...config };
    const unchecked: string[] = [];
    const parse = (key: string): unknown => {
        try {
            return JSON.parse(config[`${PROJECT}:${key}`] ?? "null");
        } catch {
            return undefined;
        }
    };
    const fix = (c: unknown, where: string): unknown => {
        if (!isRecord(c) || (c.kubeconfig !== undefined && typeof c.kubeconfig !== "string")) return c;
        const why = absentKubeconfig(c.kubeconfig);
        if (why === undefined) return c;
        const name = typeof c.name === "string" ? c.name : where;
        const context = typeof c.context === "string" ? c.context : name;
        const server = typeof c.apiServer === "string" ? c.apiServer : UNREAD_API_SERVER;
        unchecked.push(
            `${where} (${name}): no kubeconfig (${why}): that its context ${JSON.stringify(context)} exists` +
                (c.apiServer === undefined ? `, and its API server address (shown as ${UNREAD_API_SERVER}; set apiServer to see it)` : ""),
        );
        return { ...c, kubeconfig: standInKubeconfig(context, server), context };
    };
    const primary = parse("primary");
    if (isRecord(primary)) out[`${PROJECT}:primary`] = JSON.stringify(fix(primary, "primary"));
    const remotes = parse("remotes");
    if (Array.isArray(remotes)) out[`${PROJECT}:remotes`] = JSON.stringify(remotes.map((r, i) => fix(r, `remotes[${i}]`)));
    return { config: out, unchecked };
}
