/**
 * The data plane as the e2e and `npm run verify` see it on the simulated environment: requests sent
 * from a pod (`kubectl exec`'s stand-in: Istio's echo client run in the pod's network namespace, as
 * its app container), the answers tallied, the gateways' connection counts, and the workload
 * certificates the pods' agents got from istiod.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { CROSS_NETWORK_PORT } from "../lib/istio-values";
import { coreOf } from "./checks";
import { runInPod } from "./kubelet/exec";
import { AGENT_FILES } from "./kubelet/kubelet";
import { containerLogFile } from "./kubelet/pod-spec";
import type { SimState } from "./state";
import type { SimCluster } from "./topology";


/** One answer as Istio's echo client prints it (`[i] Key=value`, `[i body] Key=value`). */
export interface Answer {
    readonly status: number;
    readonly version?: string;
    readonly cluster?: string;
    readonly hostname?: string;
    /** The peer identity the server's sidecar saw (x-forwarded-client-cert's URI). */
    readonly peer?: string;
    readonly latencyMs?: number;
    readonly error?: string;
}

/** Parses the echo client's output into answers, in request order. */
export function parseEchoOutput(text: string): Answer[] {
    const byIndex = new Map<number, Record<string, string>>();
    for (const line of text.split("\n")) {
        const m = /^\[(\d+)(?: body)?\] ([A-Za-z-]+)=(.*)$/.exec(line.trim());
        const text = /^\[(\d+) body\] (.*)$/.exec(line.trim());
        if (!m && text) {
            // A body line that is no Key=value (an error page): kept as the answer's error.
            const fields = byIndex.get(Number(text[1])) ?? {};
            fields.body ??= text[2];
            byIndex.set(Number(text[1]), fields);
        }
        if (!m) continue;
        const fields = byIndex.get(Number(m[1])) ?? {};
        if (m[2] === "RequestHeader" && /^X-Forwarded-Client-Cert:/i.test(m[3])) fields.xfcc = m[3].slice(m[3].indexOf(":") + 1);
        else fields[m[2]] ??= m[3];
        byIndex.set(Number(m[1]), fields);
    }
    return [...byIndex.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, f]) => ({
            status: Number(f.StatusCode ?? 0),
            version: f.ServiceVersion,
            cluster: f.Cluster,
            hostname: f.Hostname,
            peer: /URI=([^;,]+)/.exec(f.xfcc ?? "")?.[1],
            latencyMs: f.Latency === undefined ? undefined : parseDuration(f.Latency),
            ...(f.body !== undefined && f.StatusCode !== "200" ? { error: f.body } : {}),
        }));
}

/** Go's duration text (`4.5ms`, `1.2s`, `850µs`) in milliseconds. */
function parseDuration(text: string): number | undefined {
    const m = /^([\d.]+)(ns|µs|us|ms|s)$/.exec(text);
    if (!m) return undefined;
    const scale = { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1000 }[m[2] as "ns" | "µs" | "us" | "ms" | "s"];
    return Number(m[1]) * scale;
}

/** Answers counted by version, by instance, by serving cluster and by peer identity; failures; latency percentiles. */
export function tally(answers: readonly Answer[]) {
    const count = (key: (a: Answer) => string | undefined) => {
        const out: Record<string, number> = {};
        for (const a of answers) if (a.status === 200) out[key(a) ?? "?"] = (out[key(a) ?? "?"] ?? 0) + 1;
        return out;
    };
    const latencies = answers.filter((a) => a.status === 200 && a.latencyMs !== undefined).map((a) => a.latencyMs as number).sort((a, b) => a - b);
    const percentile = (p: number) => (latencies.length === 0 ? undefined : Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] * 10) / 10);
    return {
        sent: answers.length,
        failed: answers.filter((a) => a.status !== 200).length,
        /** What the failures said (each distinct text once, at most ten). */
        failures: [...new Set(answers.filter((a) => a.status !== 200).map((a) => a.error ?? `status ${a.status}`))].slice(0, 10),
        byVersion: count((a) => a.version),
        byInstance: count((a) => a.hostname),
        byCluster: count((a) => a.cluster),
        byPeer: count((a) => a.peer),
        latencyMs: { p50: percentile(50), p90: percentile(90), p99: percentile(99) },
    };
}

/** A cluster's running pods in `namespace` (matching `labelSelector`), not going. */
async function runningPods(state: SimState, cluster: SimCluster, namespace: string, labelSelector?: string): Promise<V1Pod[]> {
    const pods = (await coreOf(state, cluster).listNamespacedPod({ namespace, labelSelector })).items;
    return pods.filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
}

async function runningPod(state: SimState, cluster: SimCluster, namespace: string, app: string): Promise<V1Pod> {
    const [pod] = await runningPods(state, cluster, namespace, `app=${app}`);
    if (!pod) throw new Error(`no running ${app} pod in ${cluster.name}/${namespace}`);
    return pod;
}

/** Istio's echo client run in `pod` as its `curl` container (sim/kubelet/exec.ts); what it printed, answers and errors. */
async function echoClient(state: SimState, cluster: SimCluster, pod: V1Pod, args: readonly string[]): Promise<string> {
    const { stdout, stderr } = await runInPod(state, cluster.name, pod.metadata?.namespace ?? "sample", pod.metadata?.name ?? "", "curl", [path.join(state.binDir, "echo-client"), ...args]);
    return `${stdout}\n${stderr}`;
}

/**
 * `kubectl exec deploy/curl -- curl helloworld.sample:5000/hello`, `count` times, as the environment
 * can: Istio's echo client in the curl pod's network namespace (its /etc/hosts, its sidecar's capture).
 */
export async function requestsFrom(state: SimState, cluster: SimCluster, count: number, url = "http://helloworld.sample:5000/hello"): Promise<Answer[]> {
    const out = await echoClient(state, cluster, await runningPod(state, cluster, "sample", "curl"), [url, `--count=${count}`, "--timeout=5s", "--new-connection-per-request"]);
    const answers = parseEchoOutput(out);
    // Requests the client reports no answer for at all (refused, timed out) count as failures.
    return [...answers, ...Array.from({ length: Math.max(0, count - answers.length) }, () => ({ status: 0, error: out.split("\n").filter(Boolean).pop() }))];
}

/** The connections a cluster's network gateways passed through, by listener and cluster (their Envoy stand-ins' counters). */
export function gatewayConnections(state: SimState, cluster: SimCluster): Record<string, number> {
    const dir = path.join(state.dir, "pods", cluster.name, "istio-system");
    const total: Record<string, number> = {};
    for (const pod of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const file = path.join(dir, pod, "envoy-stand-in.stats.json");
        if (!fs.existsSync(file)) continue;
        for (const [k, v] of Object.entries(JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, number>)) {
            if (k.endsWith(".cx_total")) total[k] = (total[k] ?? 0) + v;
        }
    }
    return total;
}

/** Each running sample pod's workload certificate: its identity, its issuer, and whether it chains to `rootPem`. */
export async function workloadCertificates(state: SimState, cluster: SimCluster, rootPem: string) {
    const root = new X509Certificate(rootPem);
    const pods = await runningPods(state, cluster, "sample");
    return pods.map((p) => {
        const file = path.join(state.dir, "pods", cluster.name, "sample", p.metadata?.name ?? "", AGENT_FILES.certs, "cert-chain.pem");
        if (!fs.existsSync(file)) return { pod: p.metadata?.name ?? "", identity: undefined, chainsToRoot: false };
        const pems = fs.readFileSync(file, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        const certs = pems.map((pem) => new X509Certificate(pem));
        // leaf ← intermediate(s) ← the mesh root: each signed by the next (the file may end with the root itself).
        const chain = certs[certs.length - 1]?.fingerprint256 === root.fingerprint256 ? certs.slice(0, -1) : certs;
        const chainsToRoot = chain.length > 0 && chain.every((c, i) => {
            const issuer = chain[i + 1] ?? root;
            return c.checkIssued(issuer) && c.verify(issuer.publicKey);
        });
        return { pod: p.metadata?.name ?? "", identity: /URI:([^,\s]+)/.exec(chain[0]?.subjectAltName ?? "")?.[1], issuer: chain[0]?.issuer.replace(/\n/g, ", "), chainsToRoot };
    });
}

/** A CA of its own and a client certificate under it, with a mesh-like SPIFFE identity (openssl). */
function foreignClientCertificate(dir: string): { cert: string; key: string } {
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/O=Elsewhere/CN=Foreign Root", "-keyout", "root-key.pem", "-out", "root.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=Elsewhere", "-keyout", "key.pem", "-out", "client.csr");
    fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=URI:spiffe://cluster.local/ns/sample/sa/curl\nextendedKeyUsage=clientAuth,serverAuth\n");
    openssl("x509", "-req", "-in", "client.csr", "-CA", "root.pem", "-CAkey", "root-key.pem", "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "cert.pem");
    return { cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") };
}

/**
 * A call from `cluster`'s client pod straight to a sidecar's inbound (`target`, a pod address and port),
 * with the SNI and Istio's ALPN a client sidecar would send: once with the client's own workload
 * certificate (answered: the status), once with a certificate of a foreign root (refused or not).
 */
export async function foreignClientRefused(state: SimState, cluster: SimCluster, target: string, sni: string) {
    const pod = await runningPod(state, cluster, "sample", "curl");
    const own = path.join(state.dir, "pods", cluster.name, "sample", pod.metadata?.name ?? "", AGENT_FILES.certs);
    const foreign = foreignClientCertificate(fs.mkdtempSync(path.join(state.dir, "foreign-ca-")));
    const call = async (cert: string, key: string) => {
        const out = await echoClient(state, cluster, pod, [`https://${target}/hello`, `--server-name=${sni}`, "--alpn=istio-peer-exchange,istio",
            `--client-cert=${cert}`, `--client-key=${key}`, "--insecure-skip-verify", "--timeout=5s"]);
        return { answer: parseEchoOutput(out)[0], output: out.split("\n").filter(Boolean).pop() ?? "" };
    };
    const mesh = await call(path.join(own, "cert-chain.pem"), path.join(own, "key.pem"));
    const other = await call(foreign.cert, foreign.key);
    return { withMeshCertificate: mesh.answer?.status ?? 0, refused: other.answer?.status !== 200, foreignError: other.output.slice(-300) };
}

/** What a container of a pod printed, as the kubelet stand-in logged it ("" before it started). */
function containerLog(state: SimState, cluster: SimCluster, pod: V1Pod, container: string): string {
    const file = containerLogFile(state.logDir, cluster.name, `${pod.metadata?.namespace}/${pod.metadata?.name}`, container);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}

/**
 * The istiod each running sample pod's agent dials: the upstream its xDS proxy logged as it started
 * ("" until it has). The injected PROXY_CONFIG names it only where it is not the mesh default
 * (`istiod.istio-system.svc:15012`, the control plane without revision); the agent's log says it either way.
 */
export async function discoveryAddresses(state: SimState, cluster: SimCluster): Promise<string[]> {
    const pods = await runningPods(state, cluster, "sample");
    return pods.map((p) => [...containerLog(state, cluster, p, "istio-proxy").matchAll(/Initializing with upstream address "([^"]+)"/g)].at(-1)?.[1] ?? "");
}

/**
 * The network gateway pods of a cluster whose Envoy stand-in listens on 15443 (kwok reports a pod
 * ready as it starts, before its processes listen; a real kubelet waits for the readiness probe).
 */
export async function gatewaysListening(state: SimState, cluster: SimCluster): Promise<{ running: number; listening: number }> {
    const pods = await runningPods(state, cluster, "istio-system", "app=istio-eastwestgateway");
    const listening = pods.filter((p) => containerLog(state, cluster, p, "envoy").includes(`listening on 0.0.0.0:${CROSS_NETWORK_PORT}`));
    return { running: pods.length, listening: listening.length };
}
