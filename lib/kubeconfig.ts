/**
 * Kubeconfigs read as kubectl reads them (client-go `clientcmd`), and cut down to one context: each
 * cluster's provider gets only its own cluster, user and context, so no provider's state holds
 * another cluster's credentials and an edit to an unrelated context changes no provider's inputs.
 *
 * The entries are kept as written (raw YAML), not re-serialised through a client library, so every
 * field kubectl honours survives: `exec` (with its env and interactive mode), `tokenFile`,
 * `certificate-authority`, `proxy-url`, `tls-server-name`, `disable-compression`, `extensions`…
 */
import * as path from "node:path";
import * as YAML from "yaml";

type Entry = Record<string, unknown>;

/** One kubeconfig file (or inline text), parsed. */
export interface KubeconfigFile {
    /** Named clusters, users and contexts, as written. */
    readonly clusters: readonly Entry[];
    readonly users: readonly Entry[];
    readonly contexts: readonly Entry[];
    readonly currentContext?: string;
    /** Where the file is: its relative paths are relative to it. Undefined for inline text. */
    readonly directory?: string;
}

const isEntry = (v: unknown): v is Entry => typeof v === "object" && v !== null && !Array.isArray(v);
const named = (list: unknown): Entry[] => (Array.isArray(list) ? list.filter((e): e is Entry => isEntry(e) && typeof e.name === "string") : []);

/** Parses kubeconfig text (YAML or JSON). Throws on text that does not parse; never quotes it. */
export function parseKubeconfig(text: string, directory?: string): KubeconfigFile {
    let doc: unknown;
    try {
        doc = YAML.parse(text);
    } catch {
        throw new Error("the kubeconfig does not parse"); // the parser's message quotes lines, which may hold credentials
    }
    const d = isEntry(doc) ? doc : {};
    return {
        clusters: named(d.clusters),
        users: named(d.users),
        contexts: named(d.contexts),
        currentContext: typeof d["current-context"] === "string" && d["current-context"] !== "" ? d["current-context"] : undefined,
        directory,
    };
}

/** Several files, as `KUBECONFIG=a:b` merges them: the first file to name an entry wins, and the first current context. */
export interface MergedKubeconfig {
    readonly contextNames: readonly string[];
    readonly currentContext?: string;
    find(kind: "clusters" | "users" | "contexts", name: string): { entry: Entry; directory?: string } | undefined;
}

export function mergeKubeconfigs(files: readonly KubeconfigFile[]): MergedKubeconfig {
    const find = (kind: "clusters" | "users" | "contexts", name: string) => {
        for (const f of files) {
            const entry = f[kind].find((e) => e.name === name);
            if (entry !== undefined) return { entry, directory: f.directory };
        }
        return undefined;
    };
    return {
        contextNames: [...new Set(files.flatMap((f) => f.contexts.map((c) => c.name as string)))],
        currentContext: files.find((f) => f.currentContext !== undefined)?.currentContext,
        find,
    };
}

/** The file-path fields client-go resolves against the kubeconfig's own directory (`ResolveLocalPaths`). */
const PATH_FIELDS = { cluster: ["certificate-authority"], user: ["client-certificate", "client-key", "tokenFile"] } as const;

function absolute(value: unknown, directory: string | undefined): unknown {
    return typeof value === "string" && value !== "" && directory !== undefined && !path.isAbsolute(value) ? path.join(directory, value) : value;
}

/** An entry's inner object with its relative paths made absolute (the provider has no file to be relative to). */
function resolvePaths(inner: unknown, fields: readonly string[], directory: string | undefined, exec = false): unknown {
    if (!isEntry(inner)) return inner;
    const out: Entry = { ...inner };
    for (const f of fields) if (f in out) out[f] = absolute(out[f], directory);
    // An exec command with a path separator is relative to the kubeconfig; a bare name is looked up on PATH.
    if (exec && isEntry(out.exec) && typeof out.exec.command === "string" && out.exec.command.includes("/")) {
        out.exec = { ...out.exec, command: absolute(out.exec.command, directory) };
    }
    return out;
}

/** One context cut out of a kubeconfig: its cluster's server, and a kubeconfig holding only it. */
export interface SingleContext {
    readonly context: string;
    readonly server?: string;
    /** A kubeconfig (JSON) with this context, its cluster and its user only, current. */
    readonly kubeconfig: string;
}

/**
 * The named context (default: the current one) with only its cluster and user, as `kubectl config view
 * --minify --raw --flatten` would keep them but with file paths left as paths (made absolute), so that
 * files kubectl re-reads (a rotated token file, a renewed CA) are re-read by the provider too.
 * Undefined when the context does not exist.
 */
export function singleContext(merged: MergedKubeconfig, contextName?: string): SingleContext | undefined {
    const name = contextName ?? merged.currentContext;
    if (name === undefined) return undefined;
    const context = merged.find("contexts", name);
    if (context === undefined) return undefined;
    const inner = isEntry(context.entry.context) ? context.entry.context : {};
    const cluster = typeof inner.cluster === "string" ? merged.find("clusters", inner.cluster) : undefined;
    const user = typeof inner.user === "string" ? merged.find("users", inner.user) : undefined;
    const clusterInner = cluster && resolvePaths(cluster.entry.cluster, PATH_FIELDS.cluster, cluster.directory);
    const kubeconfig = {
        apiVersion: "v1",
        kind: "Config",
        clusters: cluster ? [{ ...cluster.entry, cluster: clusterInner }] : [],
        users: user ? [{ ...user.entry, user: resolvePaths(user.entry.user, PATH_FIELDS.user, user.directory, true) }] : [],
        contexts: [context.entry],
        "current-context": name,
    };
    const server = isEntry(clusterInner) && typeof clusterInner.server === "string" && clusterInner.server !== "" ? clusterInner.server : undefined;
    return { context: name, server, kubeconfig: JSON.stringify(kubeconfig) };
}
