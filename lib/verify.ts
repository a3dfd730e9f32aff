/**
 * `npm run verify`'s logic: the page's last section (curl helloworld from the client, see which
 * versions answer) and whether the primary's istiod sees each remote. The Kubernetes calls sit behind
 * {@link MeshApi}; everything here is pure or talks only to it.
 */

/** The few Kubernetes calls verification needs, by cluster name. */
export interface MeshApi {
    /** Name of a Running, Ready pod matching `selector`; rejects when there is none by `timeoutMs`. */
    findReadyPod(cluster: string, namespace: string, selector: string, timeoutMs: number): Promise<string>;
    /** Runs a command in a container through the exec API and returns its standard output. */
    exec(cluster: string, namespace: string, pod: string, container: string, command: string[]): Promise<string>;
    /** A Secret's decoded data, or undefined if there is no such Secret. */
    readSecret(cluster: string, namespace: string, name: string): Promise<Record<string, string> | undefined>;
    /** Whether an API server answers a request made with this kubeconfig's own credentials. */
    answers(kubeconfig: string): Promise<boolean>;
}

/** One answer of helloworld: `Hello version: v2, instance: helloworld-v2-758dd55874-6x4t8`. */
export interface HelloReply {
    readonly version: string;
    readonly instance: string;
}

export function parseHelloReply(text: string): HelloReply | undefined {
    const match = /Hello version: (\S+), instance: (\S+)/.exec(text);
    return match ? { version: match[1], instance: match[2] } : undefined;
}

export interface TallyRow {
    readonly version: string;
    readonly instance: string;
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
    readonly cluster: string;
    /** The remote secret is on the primary. */
    readonly secret: boolean;
    /** Its API server answers with the secret's own credentials. */
    readonly apiServer: boolean;
}

export interface Report {
    readonly requests: number;
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
    return { missingVersions, ok: missingVersions.length === 0 && failed === 0 && remotes.every((r) => r.secret && r.apiServer) };
}

export interface VerifyOptions {
    readonly primary: string;
    readonly remotes: readonly string[];
    /** The sample namespace. */
    readonly namespace: string;
    readonly expectedVersions: readonly string[];
    /** @default 20 */
    readonly requests?: number;
    /** How long to wait for the client pod. @default 120000 */
    readonly timeoutMs?: number;
}

const ISTIO_SYSTEM = "istio-system";

/** Runs the page's proof through `api` and returns the report. */
export async function verifyMesh(api: MeshApi, options: VerifyOptions): Promise<Report> {
    const requests = options.requests ?? 20;
    const pod = await api.findReadyPod(options.primary, options.namespace, "app=curl", options.timeoutMs ?? 120_000);
    const replies: (HelloReply | undefined)[] = [];
    for (let i = 0; i < requests; i++) {
        const output = await api
            .exec(options.primary, options.namespace, pod, "curl", ["curl", "-sS", "--max-time", "5", `helloworld.${options.namespace}:5000/hello`])
            .catch(() => "");
        replies.push(parseHelloReply(output));
    }
    const remotes = await Promise.all(
        options.remotes.map(async (cluster): Promise<RemoteStatus> => {
            const data = await api.readSecret(options.primary, ISTIO_SYSTEM, `istio-remote-secret-${cluster}`);
            const kubeconfig = data?.[cluster];
            return { cluster, secret: kubeconfig !== undefined, apiServer: kubeconfig !== undefined && (await api.answers(kubeconfig)) };
        }),
    );
    const { rows, failed } = tally(replies);
    return { requests, rows, failed, expectedVersions: options.expectedVersions, remotes, ...verdict(rows, failed, options.expectedVersions, remotes) };
}

/** The report as a person reads it. */
export function formatReport(report: Report): string {
    const table = [["version", "instance", "count", "share"], ...report.rows.map((r) => [r.version, r.instance, String(r.count), `${Math.round(r.share * 100)}%`])];
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    const lines = table.map((row) => row.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  "));
    const remoteLines = report.remotes.map(
        (r) => `  ${r.cluster}: remote secret ${r.secret ? "present" : "MISSING"}, API server ${r.apiServer ? "answers with its token" : "does NOT answer"}`,
    );
    return [
        `${report.requests} requests to helloworld from the client on the primary:`,
        ...lines.map((l) => `  ${l}`),
        ...(report.failed > 0 ? [`  ${report.failed} request(s) got no helloworld answer`] : []),
        "istiod on the primary and the remotes:",
        ...remoteLines,
        report.ok
            ? `OK: every expected version (${report.expectedVersions.join(", ")}) answered`
            : `FAILED: ${[
                  report.missingVersions.length > 0 ? `no answer from ${report.missingVersions.join(", ")}` : "",
                  report.failed > 0 ? `${report.failed} failed request(s)` : "",
                  report.remotes.some((r) => !r.secret || !r.apiServer) ? "a remote is not seen by istiod" : "",
              ]
                  .filter(Boolean)
                  .join("; ")}`,
    ].join("\n");
}
