/**
 * `npm run verify`'s logic: the page's last section (curl helloworld from the client, see which
 * versions answer) and whether the primary's istiod sees each remote. The Kubernetes calls sit behind
 * {@link MeshApi}; everything here is pure or talks only to it.
 */
import { KubeConfig } from "@kubernetes/client-node";

/** The few Kubernetes calls verification needs, by cluster name. */
export interface MeshApi {
    /** Name of a Running, Ready pod matching `selector`; rejects when there is none by `timeoutMs`. */
    findReadyPod(cluster: string, namespace: string, selector: string, timeoutMs: number): Promise<string>;
    /** Runs a command in a container through the exec API, with `stdin` if given, and returns its standard output. */
    exec(cluster: string, namespace: string, pod: string, container: string, command: string[], stdin?: string): Promise<string>;
    /** A Secret's decoded data, or undefined if there is no such Secret. */
    readSecret(cluster: string, namespace: string, name: string): Promise<Record<string, string> | undefined>;
    /**
     * Asks the API server to create a pod in `namespace` as a dry run (nothing is stored), which calls the
     * admission webhooks, injection included; the API server's error message, or undefined when it worked.
     */
    dryRunPod(cluster: string, namespace: string): Promise<string | undefined>;
}

/**
 * Whether each cluster's API server can call istiod's injection webhook: a dry-run pod in the sample's
 * namespace. A private control plane without a firewall rule to port 15017 (GKE's private clusters)
 * fails here, and the error says which cluster, which port, from where, and what to add.
 */
export async function webhookPreflight(api: MeshApi, options: Pick<VerifyOptions, "primary" | "remotes" | "namespace" | "primaries" | "primaryOf">): Promise<string[]> {
    const problems: string[] = [];
    const primaries = options.primaries ?? [options.primary];
    for (const cluster of [...primaries, ...options.remotes]) {
        const error = await api.dryRunPod(cluster, options.namespace);
        if (error === undefined || !/failed calling webhook/i.test(error)) continue;
        const primary = options.primaryOf?.[cluster] ?? options.primary;
        const to = primaries.includes(cluster) ? `istiod's pods on ${cluster}` : `the network gateway of its primary ${primary} (which passes it to istiod)`;
        problems.push(
            `${cluster}: its API server cannot call istiod's sidecar-injection webhook on port 15017 (from ${cluster}'s control plane to ${to}): ${error}. ` +
                'On a private GKE cluster, allow the control plane\'s range to reach the nodes on TCP 15017 (docs/real-clusters.md, "Private control planes").',
        );
    }
    return problems;
}

/**
 * The check that a remote secret works, run from the client pod on the primary, where istiod runs:
 * the secret's server address is the one reachable from the primary's pods (a kind node IP, say),
 * not necessarily from the machine running verify (Docker Desktop does not route to it). The token
 * and CA go through stdin, never on a command line. Listing namespaces needs a valid token (`/version`
 * answers anyone). Prints the HTTP status.
 */
export const API_SERVER_CHECK = [
    "sh",
    "-c",
    'IFS= read -r token; cat > /tmp/remote-ca.crt; curl -sS --max-time 10 --cacert /tmp/remote-ca.crt -o /dev/null -w "%{http_code}" ' +
        '-H "Authorization: Bearer $token" "$1/api/v1/namespaces?limit=1"',
    "api-server-check",
];

/** The server, token and CA of a remote secret's kubeconfig (token or CA missing: undefined). */
export function remoteCredentials(kubeconfig: string): { server: string; token: string; caPem: string } | undefined {
    try {
        const kc = new KubeConfig();
        kc.loadFromString(kubeconfig);
        const cluster = kc.getCurrentCluster();
        const token = kc.getCurrentUser()?.token;
        if (!cluster?.server || !cluster.caData || !token) return undefined;
        return { server: cluster.server, token, caPem: Buffer.from(cluster.caData, "base64").toString("utf8") };
    } catch {
        return undefined;
    }
}

/**
 * One answer of helloworld: `Hello version: v2, instance: helloworld-v2-758dd55874-6x4t8`; or of Istio's
 * echo server, which stands in for helloworld on the simulated environment and also says which cluster
 * served (`Cluster=`) and which peer identity the server's sidecar saw (`x-forwarded-client-cert`).
 */
export interface HelloReply {
    readonly version: string;
    readonly instance: string;
    readonly cluster?: string;
    readonly peer?: string;
}

export function parseHelloReply(text: string): HelloReply | undefined {
    const match = /Hello version: (\S+), instance: (\S+)/.exec(text);
    if (match) return { version: match[1], instance: match[2] };
    const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(text)?.[1]?.trim();
    const version = field("ServiceVersion");
    const instance = field("Hostname");
    if (!version || !instance) return undefined;
    const peer = /^RequestHeader=X-Forwarded-Client-Cert:.*?URI=([^;,\s]+)/im.exec(text)?.[1];
    return { version, instance, ...(field("Cluster") ? { cluster: field("Cluster") } : {}), ...(peer ? { peer } : {}) };
}

export interface TallyRow {
    readonly version: string;
    readonly instance: string;
    /** The cluster that served, where the answer says (the echo server does). */
    readonly cluster?: string;
    /** The client identity the server's sidecar saw, where the answer says. */
    readonly peer?: string;
    readonly count: number;
    /** Share of all requests, 0..1. */
    readonly share: number;
}

/** Counts answers per version and instance (most first); requests that got no helloworld answer are `failed`. */
export function tally(replies: readonly (HelloReply | undefined)[]): { rows: TallyRow[]; failed: number } {
    const counts = new Map<string, { version: string; instance: string; count: number }>();
    for (const r of replies) {
        if (!r) continue;
        const key = `${r.version}/${r.instance}`;
        const row = counts.get(key) ?? { ...r, count: 0 };
        row.count++;
        counts.set(key, row);
    }
    const rows = [...counts.values()]
        .map((r) => ({ ...r, share: r.count / replies.length }))
        .sort((a, b) => b.count - a.count || a.version.localeCompare(b.version) || a.instance.localeCompare(b.instance));
    return { rows, failed: replies.filter((r) => !r).length };
}

export interface RemoteStatus {
    /** The cluster watched. */
    readonly cluster: string;
    /** The primary whose istiod watches it. */
    readonly watcher: string;
    /** The remote secret is on the watcher. */
    readonly secret: boolean;
    /**
     * Its API server answers with the secret's own credentials, from the client pod (on the first
     * primary); undefined where the watcher is another primary (no client there to ask from).
     */
    readonly apiServer: boolean | undefined;
}

export interface Report {
    readonly requests: number;
    /** Calls made before counting, until every expected version had answered once. */
    readonly warmupRequests: number;
    readonly rows: readonly TallyRow[];
    readonly failed: number;
    readonly expectedVersions: readonly string[];
    readonly missingVersions: readonly string[];
    readonly remotes: readonly RemoteStatus[];
    readonly ok: boolean;
}

/** The verdict: every expected version answered, no request failed, and istiod sees every remote. */
export function verdict(
    rows: readonly TallyRow[],
    failed: number,
    expectedVersions: readonly string[],
    remotes: readonly RemoteStatus[],
): Pick<Report, "missingVersions" | "ok"> {
    const answered = new Set(rows.map((r) => r.version));
    const missingVersions = expectedVersions.filter((v) => !answered.has(v));
    return { missingVersions, ok: missingVersions.length === 0 && failed === 0 && remotes.every((r) => r.secret && r.apiServer !== false) };
}

export interface VerifyOptions {
    /** The primary the client runs on (the first). */
    readonly primary: string;
    readonly remotes: readonly string[];
    /** Every primary, each watching every other cluster. @default [primary] */
    readonly primaries?: readonly string[];
    /** Each remote's primary. @default the first primary */
    readonly primaryOf?: Readonly<Record<string, string>>;
    /** The sample namespace. */
    readonly namespace: string;
    readonly expectedVersions: readonly string[];
    /** @default 20 */
    readonly requests?: number;
    /** How long to wait for the client pod. @default 120000 */
    readonly timeoutMs?: number;
    /**
     * Right after `pulumi up`, sidecars may not have their configuration yet: call until every expected
     * version answered once, for at most this long, before counting. @default 120000
     */
    readonly warmupMs?: number;
    /** The pause between warm-up calls that got no answer. @default 2000 */
    readonly warmupPollMs?: number;
}

const ISTIO_SYSTEM = "istio-system";

/** Runs the page's proof through `api` and returns the report. */
export async function verifyMesh(api: MeshApi, options: VerifyOptions): Promise<Report> {
    const requests = options.requests ?? 20;
    // First: without injection there is no client pod to wait for, and a timeout would say nothing of why.
    const unreachable = await webhookPreflight(api, options);
    if (unreachable.length > 0) throw new Error(`sidecar injection cannot work:\n  ${unreachable.join("\n  ")}`);
    const pod = await api.findReadyPod(options.primary, options.namespace, "app=curl", options.timeoutMs ?? 120_000);
    const call = async () =>
        parseHelloReply(
            await api
                .exec(options.primary, options.namespace, pod, "curl", ["curl", "-sS", "--max-time", "5", `helloworld.${options.namespace}:5000/hello`])
                .catch(() => ""),
        );

    // Warm-up: not counted; ends once every expected version answered, or at the deadline.
    const pending = new Set(options.expectedVersions);
    const warmupDeadline = Date.now() + (options.warmupMs ?? 120_000);
    let warmupRequests = 0;
    while (pending.size > 0 && Date.now() < warmupDeadline) {
        const reply = await call();
        warmupRequests++;
        if (reply) pending.delete(reply.version);
        else await new Promise((r) => setTimeout(r, options.warmupPollMs ?? 2000));
    }

    const replies: (HelloReply | undefined)[] = [];
    for (let i = 0; i < requests; i++) replies.push(await call());
    // Every istiod watches every other cluster: its remote secret there, and (from the client's primary) the API server answering its token.
    const primaries = options.primaries ?? [options.primary];
    const remotes: RemoteStatus[] = [];
    for (const watcher of primaries) {
        for (const cluster of [...primaries, ...options.remotes].filter((c) => c !== watcher)) {
            const data = await api.readSecret(watcher, ISTIO_SYSTEM, `istio-remote-secret-${cluster}`);
            const credentials = data?.[cluster] !== undefined ? remoteCredentials(data[cluster]) : undefined;
            const fromClient = watcher === options.primary;
            const status =
                credentials && fromClient
                    ? await api
                          .exec(options.primary, options.namespace, pod, "curl", [...API_SERVER_CHECK, credentials.server], `${credentials.token}\n${credentials.caPem}`)
                          .catch(() => "")
                    : "";
            remotes.push({ cluster, watcher, secret: data?.[cluster] !== undefined, apiServer: fromClient ? status.trim() === "200" : undefined });
        }
    }
    const { rows, failed } = tally(replies);
    return {
        requests,
        warmupRequests,
        rows,
        failed,
        expectedVersions: options.expectedVersions,
        remotes,
        ...verdict(rows, failed, options.expectedVersions, remotes),
    };
}

/** The report as a person reads it. */
export function formatReport(report: Report): string {
    // The cluster and peer columns only where the answers say them (Istio's echo server does; helloworld does not).
    const extra = report.rows.some((r) => r.cluster !== undefined || r.peer !== undefined);
    const table = [
        ["version", "instance", "count", "share", ...(extra ? ["cluster", "peer identity seen"] : [])],
        ...report.rows.map((r) => [r.version, r.instance, String(r.count), `${Math.round(r.share * 100)}%`, ...(extra ? [r.cluster ?? "?", r.peer ?? "?"] : [])]),
    ];
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    const lines = table.map((row) => row.map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd());
    const several = new Set(report.remotes.map((r) => r.watcher)).size > 1;
    const remoteLines = report.remotes.map(
        (r) =>
            `  ${several ? `${r.watcher} watches ` : ""}${r.cluster}: remote secret ${r.secret ? "present" : "MISSING"}, API server ${
                r.apiServer === undefined ? "not asked from here (no client there)" : r.apiServer ? "answers with its token" : "does NOT answer"
            }`,
    );
    return [
        `${report.requests} requests to helloworld from the client on the primary (after ${report.warmupRequests} warm-up call(s)):`,
        ...lines.map((l) => `  ${l}`),
        ...(report.failed > 0 ? [`  ${report.failed} request(s) got no helloworld answer`] : []),
        several ? "each istiod and the clusters it watches:" : "istiod on the primary and the remotes:",
        ...remoteLines,
        report.ok
            ? `OK: every expected version (${report.expectedVersions.join(", ")}) answered`
            : `FAILED: ${[
                  report.missingVersions.length > 0 ? `no answer from ${report.missingVersions.join(", ")}` : "",
                  report.failed > 0 ? `${report.failed} failed request(s)` : "",
                  report.remotes.some((r) => !r.secret || r.apiServer === false) ? "a cluster is not seen by an istiod" : "",
              ]
                  .filter(Boolean)
                  .join("; ")}`,
    ].join("\n");
}
