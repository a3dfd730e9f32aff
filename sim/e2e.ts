/**
 * `npm run e2e [-- --keep]`: the program run for real on the simulated environment (one primary, two
 * remotes), each claim an assertion, in order: first preview, one `up` from empty, what landed, istiod's
 * view and the split-horizon EDS it computes, a no-op second `up`, adding and removing a remote, a
 * remote API server down and back, `destroy` and a reinstall on a revision, then the canary upgrade to
 * a second Istio built from its module (add the revision, move the default, remove the old one), its
 * rollback, and `destroy` with two revisions. Ends with `e2e: N passed, M failed` and a
 * JSON report in .e2e/report.json. Needs root. `--keep` leaves the environment up afterwards.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCommandLine } from "../scripts/lib/cli";
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import {
    cacertsChain,
    caRootCertOf,
    coreOf,
    environmentMemoryMiB,
    gatewayAddress,
    gatewayDisruption,
    hasCacerts,
    istioSystem,
    istiodAddress,
    istiodClusters,
    istiodProxies,
    istiodReady,
    helmReleases,
    leftovers,
    meshNetworksOf,
    missingChartKeys,
    remoteSecret,
    revisionObjects,
    samplePods,
    tokenAccepted,
    xdsEndpoints,
} from "./checks";
import { down, inNamespace, prepare, reexecInNamespace, startInside, stopApiServer, writeStackFile } from "./environment";
import { revisionNameOf } from "../lib/revisions";
import { NETWORK_GATEWAY_REPLICAS } from "../lib/istio-values";
import { type Answer, discoveryAddresses, foreignClientRefused, gatewayConnections, gatewaysListening, requestsFrom, tally, workloadCertificates } from "./data-plane";
import { eventually } from "./eventually";
import { policyPackLauncher, simStack } from "./pulumi";
import { ROOT, type SimState, hasState, kubeConfigOf } from "./state";
import { NETNS, type SimCluster } from "./topology";


interface StepResult {
    readonly step: string;
    readonly passed: boolean;
    readonly seconds: number;
    /** Of `seconds`, how long the step's Pulumi runs took, by operation (runs at once counted each). */
    readonly pulumi: Readonly<Record<string, { runs: number; seconds: number }>>;
    readonly saw: Record<string, unknown>;
    readonly error?: string;
}

/** The Pulumi runs of the step in progress, by operation. */
let pulumiRuns: Record<string, { runs: number; seconds: number }> = {};

/** `stack`, its runs timed into the step's report (where a step's time goes: Pulumi or the checks). */
function timed(stack: Stack): Stack {
    const operations = new Set(["up", "preview", "destroy", "refresh"]);
    return new Proxy(stack, {
        get(target, prop, receiver) {
            const value: unknown = Reflect.get(target, prop, receiver);
            if (typeof prop !== "string" || !operations.has(prop) || typeof value !== "function") return value;
            return async (...args: unknown[]) => {
                const start = Date.now();
                try {
                    return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
                } finally {
                    const run = (pulumiRuns[prop] ??= { runs: 0, seconds: 0 });
                    run.runs += 1;
                    run.seconds = Math.round((run.seconds + (Date.now() - start) / 1000) * 10) / 10;
                }
            };
        },
    });
}

const results: StepResult[] = [];
/**
 * An annotation of every gateway's Service: step 7e's update of every cluster (a Service patched, no
 * pods rolled, so the update's time is not the controllers' reconnection after the API server's restart).
 */
const CHANGE_ANNOTATION = "e2e.istio-multicluster/change";

/** The step numbers `--steps` selects (a number selects its lettered steps too); undefined: every step. */
let selected: ((label: string) => boolean) | undefined;
const skipped: string[] = [];

/** `--steps 1,2,8-12`: which steps run, for working on some of them (each step relies on the state the ones before leave). */
function stepSelection(list: string): (label: string) => boolean {
    const ranges = list.split(",").map((part) => {
        const [from, to = from] = part.trim().split("-").map(Number);
        if (!Number.isInteger(from) || !Number.isInteger(to)) throw new Error(`--steps: ${list} is not a list of step numbers and ranges such as 1,2,8-12`);
        return [from, to] as const;
    });
    return (label) => ranges.some(([from, to]) => parseInt(label, 10) >= from && parseInt(label, 10) <= to);
}

async function step(name: string, body: (saw: Record<string, unknown>) => Promise<void>): Promise<boolean> {
    if (selected !== undefined && !selected(name.split(".")[0])) {
        skipped.push(name);
        return true;
    }
    const saw: Record<string, unknown> = {};
    const start = Date.now();
    pulumiRuns = {};
    process.stdout.write(`\n== ${name}\n`);
    try {
        await body(saw);
        results.push({ step: name, passed: true, seconds: (Date.now() - start) / 1000, pulumi: pulumiRuns, saw });
        process.stdout.write(`PASS ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)\n`);
        return true;
    } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        results.push({ step: name, passed: false, seconds: (Date.now() - start) / 1000, pulumi: pulumiRuns, saw, error });
        process.stdout.write(`FAIL ${name}: ${error}\n`);
        return false;
    }
}

/** The steps of a preview or update that change something, in the order the engine ran them. */
function changingSteps(events: EngineEvent[]): { op: string; name: string }[] {
    return events.flatMap((e) => {
        const m = e.resourcePreEvent?.metadata;
        // Reads (the gateway Services' addresses) and discarding a read change nothing on a cluster.
        return m && !["same", "read", "discard"].includes(m.op) ? [{ op: m.op, name: m.urn.split("::").pop() as string }] : [];
    });
}

/** The operations a preview or update would run, by resource name (only those that change something). */
function collectSteps(events: EngineEvent[]): Record<string, string> {
    return Object.fromEntries(changingSteps(events).map(({ name, op }) => [name, op]));
}

function logTo(file: string) {
    const fd = fs.openSync(file, "a");
    return (out: string) => fs.writeSync(fd, out);
}

/** Kills the Pulumi CLI and its plugins (providers, policy pack) with SIGKILL, as a crash or a lost CI runner would. */
function killPulumi(state: SimState): string[] {
    const killed: string[] = [];
    const cli = path.join(state.dir, "pulumi-root", "bin", "pulumi");
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
        let argv: string[];
        try {
            argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        } catch {
            continue; // gone
        }
        if (argv[0] === cli || /pulumi-resource-(kubernetes|tls)$/.test(argv[0]) || argv.some((a) => a.endsWith("run-policy-pack/index.js"))) {
            try {
                process.kill(Number(pid), "SIGKILL");
                killed.push(`${pid} ${path.basename(argv[0])}`);
            } catch {
                // gone meanwhile
            }
        }
    }
    return killed;
}

async function inside(state: SimState): Promise<void> {
    const [primary, remote1, remote2] = state.clusters;
    const policyPacks = [policyPackLauncher(state)];
    const pulumiLog = logTo(path.join(state.logDir, "pulumi.log"));
    const stack: Stack = timed(await simStack(state));
    // The update summaries without secrets (nothing here reads them there): the CLI call for the summary then decrypts nothing.
    const options = { onOutput: pulumiLog, showSecrets: false };
    // With the policy pack: the runs that declare a shape or version of the mesh not checked before
    // (a run with the same resources gives the policies nothing new, and the pack's start costs seconds).
    const checked = { ...options, policyPacks };
    // Chart settings a user tunes, from the first up to step 7g (step 5c reads what they rendered).
    const tunedAnnotation = "service.beta.kubernetes.io/aws-load-balancer-scheme";
    const tuned = (change?: string) => {
        const changed = change ? { [CHANGE_ANNOTATION]: change } : {};
        return {
            gateways: {
                ...(change ? { [primary.name]: { service: { annotations: changed } } } : {}),
                [remote1.name]: { service: { annotations: { [tunedAnnotation]: "internet-facing", ...changed }, externalTrafficPolicy: "Local" as const }, resources: { requests: { cpu: "150m" } } },
            },
            istio: {
                version: state.istioVersions[0],
                istiod: { resources: { requests: { cpu: "250m", memory: "512Mi" } } },
                values: { gateway: { podAnnotations: { "e2e.istio-multicluster/values": "merged" } } },
            },
        };
    };
    const configure = (clusters: readonly SimCluster[], versions?: Record<string, readonly string[]>, tokenRotations?: Record<string, string>) =>
        writeStackFile(state, clusters, { sampleVersions: versions, tokenRotations, ...tuned() });
    // With both remotes: v2 on each.
    const sampleVersions = { [primary.name]: ["v1"], [remote1.name]: ["v2"], [remote2.name]: ["v2"] };
    /** helloworld's endpoints as a sidecar of `sidecar` (on its `network`) gets them from `istiod`'s istiod of `revision`, once they are `expected`. */
    const endpointsSeen = (istiod: SimCluster, sidecar: SimCluster, expected: () => Promise<readonly string[]>, revision = "") =>
        eventually(async () => {
            const seen = xdsEndpoints(state, await istiodAddress(state, revision, istiod), sidecar);
            assert.deepEqual(seen, [...(await expected())].sort(), `${istiod.name}'s istiod to a sidecar on ${sidecar.name}`);
            return seen;
        });
    const helloEndpoints = (expected: readonly string[], revision = "") => endpointsSeen(primary, primary, () => Promise.resolve(expected), revision);
    /** istiod's clusters, once it reports `cluster` synced (`false`: once it no longer watches it). */
    const istiodSees = (cluster: SimCluster, watched = true, revision = "", timeoutMs = 60_000) =>
        eventually(async () => {
            const clusters = await istiodClusters(await istiodAddress(state, revision));
            if (watched) assert.equal(clusters[cluster.name], "synced");
            else assert.equal(clusters[cluster.name], undefined, `istiod no longer watches ${cluster.name}`);
            return clusters;
        }, timeoutMs);
    /** Every cluster, once nothing of the mesh is left on it. */
    const nothingLeft = async () =>
        Object.fromEntries(
            await Promise.all(
                state.clusters.map(async (c) => [c.name, await eventually(async () => {
                    const l = await leftovers(state, c);
                    assert.deepEqual(l, [], `${c.name} still has ${l.join(", ")}`);
                    return l;
                })] as const),
            ),
        );
    const podIp = async (cluster: SimCluster, version: string) => {
        const pod = (await samplePods(state, cluster)).find((p) => p.app === "helloworld" && p.version === version);
        assert.ok(pod?.ip, `no helloworld ${version} pod with an address on ${cluster.name}`);
        return pod.ip;
    };

    /** The mesh root, as the program wrote it into the primary's `cacerts` (generated, or from files). */
    const meshRoot = async () => {
        const secret = await coreOf(state, primary).readNamespacedSecret({ name: "cacerts", namespace: "istio-system" });
        return Buffer.from(secret.data?.["root-cert.pem"] ?? "", "base64").toString("utf8");
    };
    const connections = (c: SimCluster) => Object.values(gatewayConnections(state, c)).reduce((a, b) => a + b, 0);
    /**
     * Requests from `from`'s client (cluster1's) until `count` in a row are all answered, by every version; the
     * answers tallied, and the connections each of `gateways` passed through meanwhile.
     */
    const traffic = async (count: number, servedBy: readonly SimCluster[], gateways: readonly SimCluster[], from = primary, timeoutMs = 90_000) => {
        const before = gateways.map(connections);
        const answers = await eventually(async () => {
            const a = tally(await requestsFrom(state, from, count));
            assert.equal(a.failed, 0, `${a.failed} of ${a.sent} requests failed`);
            assert.deepEqual(Object.keys(a.byCluster).sort(), servedBy.map((c) => c.name).sort(), "answered from every cluster that runs helloworld");
            return a;
        }, timeoutMs);
        const crossed = Object.fromEntries(gateways.map((g, i) => [g.name, connections(g) - before[i]]));
        for (const g of gateways) assert.ok(crossed[g.name] >= (answers.byCluster[g.name] ?? 0) && crossed[g.name] > 0, `${g.name}'s gateway passed ${crossed[g.name]} connections for ${answers.byCluster[g.name] ?? 0} answers`);
        return { ...answers, gatewayConnections: crossed };
    };

    /** A container that only waits, as the sample's curl does (the kubelet stand-in runs Istio's echo client for it). */
    const sleeper = (name: string) => ({ name, image: "docker.io/curlimages/curl:8.16.0", command: ["/bin/sleep", "infinity"] });
    /** The webhooks istiod without revision renders (`istio-sidecar-injector`, labelled `istio.io/rev=default`) on `cluster`. */
    const unrevisionedInjectors = async (cluster: SimCluster) =>
        (await revisionObjects(state, cluster, "default")).filter((o) => o.startsWith("MutatingWebhookConfiguration"));
    /** The pilot-discovery process of `cluster`'s istiod (the supervisor runs one per istiod pod, at the pod's address). */
    const istiodPidOf = async (cluster: SimCluster): Promise<number> => {
        const address = await istiodAddress(state, "", cluster);
        const pids = execFileSync("pgrep", ["-f", `pilot-discovery.*--grpcAddr=${address}:`], { encoding: "utf8" }).trim().split("\n");
        assert.equal(pids.length, 1, `one pilot-discovery at ${address}: ${pids.join(", ")}`);
        return Number(pids[0]);
    };
    /** Whether a new pod in `cluster`'s sample namespace is injected ("injected"; throws when the API server refuses it). */
    const injectionOf = async (cluster: SimCluster): Promise<string> => {
        const core = coreOf(state, cluster);
        const name = `injection-check-${Date.now()}`;
        const pod = await core.createNamespacedPod({
            namespace: "sample",
            body: { metadata: { name }, spec: { terminationGracePeriodSeconds: 0, containers: [sleeper("app")] } },
        });
        await core.deleteNamespacedPod({ name, namespace: "sample" });
        return pod.spec?.containers.some((c) => c.name === "istio-proxy") || pod.spec?.initContainers?.some((c) => c.name === "istio-proxy") ? "injected" : "not injected";
    };
    /** `work` with a client of one's own on `cluster`, as a user would run one (the sample puts curl on the first primary only). */
    const withClient = async <T>(cluster: SimCluster, work: () => Promise<T>): Promise<T> => {
        const apps = kubeConfigOf(state, cluster).makeApiClient(AppsV1Api);
        const labels = { app: "curl" };
        await apps.createNamespacedDeployment({
            namespace: "sample",
            body: {
                metadata: { name: "curl", labels },
                spec: {
                    selector: { matchLabels: labels },
                    template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 0, containers: [sleeper("curl")] } },
                },
            },
        });
        try {
            return await work();
        } finally {
            await apps.deleteNamespacedDeployment({ name: "curl", namespace: "sample" });
            await eventually(async () => assert.deepEqual((await samplePods(state, cluster)).filter((p) => p.app === "curl"), []), 60_000);
        }
    };

    /** `work`, with requests from cluster1's client running all along; its result and the requests' tally. */
    const trafficDuring = async <T>(work: () => Promise<T>): Promise<[T, ReturnType<typeof tally>]> => {
        let done = false;
        const answers: Answer[] = [];
        const load = (async () => {
            while (!done) answers.push(...(await requestsFrom(state, primary, 5)));
        })();
        try {
            return [await work(), tally(answers)];
        } finally {
            done = true;
            await load;
        }
    };

    /** Each cluster's network gateway pods, once all of them (at least the default two) listen on 15443. */
    const gatewaysServe = (clusters: readonly SimCluster[]) =>
        Promise.all(clusters.map((c) => eventually(async () => {
            const seen = await gatewaysListening(state, c);
            assert.ok(seen.running >= NETWORK_GATEWAY_REPLICAS && seen.listening === seen.running, `${c.name}'s gateway pods: ${JSON.stringify(seen)}`);
            return seen;
        })));
    /** The istiod every running sample pod's agent on `clusters` dials, once each has dialed `address`. */
    const agentsDial = (clusters: readonly SimCluster[], address: string) =>
        Promise.all(clusters.map((c) => eventually(async () => {
            const addresses = await discoveryAddresses(state, c);
            assert.ok(addresses.length > 0 && addresses.every((a) => a === address), `${c.name}: the agents dial ${address}: ${addresses.join(", ")}`);
            return addresses;
        })));

    /** What the state holds: how many resources, the pending operations (`<type> <name>`). */
    const stateOf = async (st: Stack) => {
        const d = (await st.exportStack()).deployment as { resources?: unknown[]; pending_operations?: { type: string; resource: { urn: string } }[] };
        return { resources: d.resources?.length ?? 0, pending: (d.pending_operations ?? []).map((p) => `${p.type} ${p.resource.urn.split("::").pop()}`) };
    };
    let cleanResources = 0; // in the state after step 2's clean up from empty
    let cleanTokens = 0; // service-account token Secrets on the remote then
    const tokenSecrets = async () =>
        (await coreOf(state, remote1).listSecretForAllNamespaces({ fieldSelector: "type=kubernetes.io/service-account-token" })).items.map((x) => `${x.metadata?.namespace}/${x.metadata?.name}`);
    /** Helm's releases on every cluster, by cluster. */
    const releasesEverywhere = async () => Object.fromEntries(await Promise.all(state.clusters.map(async (c) => [c.name, await helmReleases(state, c)] as const)));
    /**
     * `pulumi up` from empty, stopped once a Helm release is being installed (Helm says
     * pending-install): `sigint` as Ctrl-C does, `kill` by SIGKILL to the CLI and its plugins.
     */
    const interruptedUp = async (how: "sigint" | "kill") => {
        const abort = new AbortController();
        const up = stack.up({ ...options, signal: abort.signal }).then(
            () => "succeeded",
            (e: unknown) => String(e).split("\n")[0],
        );
        const seen = await eventually(async () => {
            const r = await releasesEverywhere();
            assert.ok(Object.values(r).some((x) => Object.values(x).includes("pending-install")), "a Helm release being installed");
            return r;
        }, 120_000, 100);
        if (how === "sigint") abort.abort();
        else killPulumi(state);
        return { releasesWhenStopped: seen, result: await up };
    };
    /** Mesh and traffic after a recovery: istiod synced, split-horizon endpoints, both versions answering. */
    const meshWorks = async () => ({
        clusters: await istiodSees(remote1, true, "", 120_000),
        endpoints: await helloEndpoints([`${await podIp(primary, "v1")}:5000`, `${await gatewayAddress(state, remote1)}:15443`]),
        traffic: await traffic(10, [primary, remote1], [remote1]),
    });
    /** Every Helm release on every cluster: one record each, deployed (none pending or failed). */
    const releasesSettled = async () => {
        const r = await releasesEverywhere();
        for (const [cluster, releases] of Object.entries(r)) {
            const latest = new Map<string, string>();
            for (const [key, status] of Object.entries(releases)) if (status !== "superseded") latest.set(key.replace(/ v\d+$/, ""), status);
            for (const [release, status] of latest) assert.equal(status, "deployed", `${cluster}: ${release} is ${status}`);
        }
        return r;
    };

    configure([primary, remote1]);

    await step("1. a first pulumi preview on the empty stack runs clean, with the policy pack", async (saw) => {
        const events: EngineEvent[] = [];
        const preview = await stack.preview({ ...checked, onEvent: (e) => events.push(e) });
        saw.changeSummary = preview.changeSummary;
        assert.ok((preview.changeSummary.create ?? 0) > 0);
        assert.deepEqual(Object.keys(preview.changeSummary).sort(), ["create"]);
        const violations = events.filter((e) => e.policyEvent && e.policyEvent.enforcementLevel === "mandatory");
        assert.deepEqual(violations, []);
        assert.match(preview.stdout, /istio-multicluster@v[\d.]+ \(local: /, "the policy pack ran");
    });

    await step("2. pulumi up from empty converges in one run (one remote), with the policy pack", async (saw) => {
        const events: EngineEvent[] = [];
        const up = await stack.up({ ...checked, onEvent: (e) => events.push(e) });
        saw.resourceChanges = up.summary.resourceChanges;
        // The policy pack ran and every policy passed (the CLI prints ✅ for a pack without violations).
        assert.match(up.stdout, /✅ istio-multicluster@v[\d.]+ \(local: /);
        assert.deepEqual(events.filter((e) => e.policyEvent), []);
        saw.outputs = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
        assert.equal(up.summary.result, "succeeded");
        saw.memoryMiB = environmentMemoryMiB(NETNS);
        saw.resourcesInState = cleanResources = await stateOf(stack).then((d) => d.resources);
        saw.tokenSecrets = cleanTokens = (await tokenSecrets()).length;
    });

    await step("3. what landed, read back through the API servers", async (saw) => {
        // Every Helm value the program sets exists in the charts installed here (1.31 development).
        for (const version of state.istioVersions) assert.deepEqual(missingChartKeys(state.chartDirectory, version), [], version);
        for (const c of [primary, remote1]) {
            const ns = await istioSystem(state, c);
            assert.equal(ns.labels["topology.istio.io/network"], c.network, `${c.name} istio-system network label`);
            if (c.role === "remote") assert.equal(ns.annotations["topology.istio.io/controlPlaneClusters"], primary.name);
        }
        // CA key material only where istiod runs; the remote's namespaces get the shared root from the primary's istiod.
        const chain = await cacertsChain(state, primary);
        saw.cacerts = chain;
        assert.ok(chain.chainsToRoot, "the primary's cacerts intermediate is signed by its root");
        saw.remoteHasCacerts = await hasCacerts(state, remote1);
        assert.equal(saw.remoteHasCacerts, false, "no cacerts (no CA key) on the remote");
        const roots = await eventually(async () =>
            Object.fromEntries(
                await Promise.all(
                    [primary, remote1].flatMap((c) => ["sample", "istio-system"].map(async (ns) => [`${c.name}/${ns}`, await caRootCertOf(state, c, ns)] as const)),
                ),
            ),
        );
        saw.istioCaRootCert = roots;
        for (const [where, r] of Object.entries(roots)) assert.equal(r.root, chain.root, `${where}: istio-ca-root-cert holds the shared root`);
        const secret = await remoteSecret(state, primary, remote1);
        const { kubeconfig: _kubeconfig, ...shown } = secret; // the report never holds a credential
        saw.remoteSecret = shown;
        assert.deepEqual(
            { name: secret.name, label: secret.label, annotation: secret.annotation, keys: secret.keys, server: secret.server, tokenAccepted: secret.tokenAccepted },
            { name: "istio-remote-secret-cluster2", label: "true", annotation: "cluster2", keys: ["cluster2"], server: state.apiServers.cluster2, tokenAccepted: true },
        );
        const networks = await meshNetworksOf(state, primary);
        saw.meshNetworks = networks;
        for (const c of [primary, remote1]) {
            const address = await gatewayAddress(state, c);
            assert.deepEqual(networks.networks[c.network]?.gateways, [{ address, port: 15443 }], `${c.network} gateway in meshNetworks`);
            assert.deepEqual(networks.networks[c.network]?.endpoints, [{ fromRegistry: c.name }]);
        }
        // Every network gateway survives a drain: two pods at least, and a budget keeping one.
        saw.gatewayDisruption = Object.fromEntries(await Promise.all([primary, remote1].map(async (c) => [c.name, await gatewayDisruption(state, c)] as const)));
        for (const c of [primary, remote1]) assert.deepEqual((saw.gatewayDisruption as Record<string, unknown>)[c.name], { minReplicas: 2, minAvailable: 1 }, c.name);
        const pods = { [primary.name]: await samplePods(state, primary), [remote1.name]: await samplePods(state, remote1) };
        saw.samplePods = pods;
        const apps = (c: SimCluster) => pods[c.name].map((p) => `${p.app}${p.version ? `-${p.version}` : ""}`).sort();
        assert.deepEqual(apps(primary), ["curl", "helloworld-v1"]);
        assert.deepEqual(apps(remote1), ["helloworld-v2"]);
        assert.ok(Object.values(pods).flat().every((p) => p.injected), "every sample pod has istio-proxy and tlsMode istio");
    });

    await step("4. istiod syncs the remote, and serves a cluster1 sidecar the v1 pod and cluster2's gateway (split-horizon EDS)", async (saw) => {
        saw.clusters = await istiodSees(remote1);
        const expected = [`${await podIp(primary, "v1")}:5000`, `${await gatewayAddress(state, remote1)}:15443`];
        saw.endpoints = await helloEndpoints(expected);
        saw.v2PodIp = await podIp(remote1, "v2");
        assert.ok(!(saw.endpoints as string[]).some((e) => e.startsWith(`${String(saw.v2PodIp)}:`)), "no v2 pod IP");
    });

    await step("4b. the page's proof for real: cluster1's client is answered by v1 (beside it) and v2 (in cluster2, through its gateway on 15443), over mTLS with certificates from istiod under the one root", async (saw) => {
        const answers = await traffic(20, [primary, remote1], [remote1]);
        saw.traffic = answers;
        assert.ok(answers.byVersion.v1 > 0 && answers.byVersion.v2 > 0, "both versions answer");
        assert.deepEqual(Object.keys(answers.byPeer), ["spiffe://cluster.local/ns/sample/sa/curl"], "each server's sidecar saw the client's identity");
        const certificates = { [primary.name]: await workloadCertificates(state, primary, await meshRoot()), [remote1.name]: await workloadCertificates(state, remote1, await meshRoot()) };
        saw.certificates = certificates;
        for (const [cluster, certs] of Object.entries(certificates)) {
            assert.ok(certs.length > 0 && certs.every((c) => c.chainsToRoot), `${cluster}: every workload certificate chains to the mesh root`);
            assert.ok(certs.every((c) => c.identity?.startsWith("spiffe://cluster.local/ns/sample/sa/")), `${cluster}: SPIFFE identities`);
        }
    });

    await step("4c. the other way: a client on cluster2 reaches v1 on cluster1 through cluster1's gateway; a client certificate from a foreign root is refused", async (saw) => {
        // v1's answers crossed cluster1's gateway.
        saw.traffic = await withClient(remote1, () => traffic(20, [primary, remote1], [primary], remote1, 120_000));
        // Straight to v1's sidecar from the client's pod, with the SNI and ALPN istiod configures: with the
        // client's own workload certificate it answers; with one of another root it refuses.
        saw.foreignRoot = await foreignClientRefused(state, primary, `${await podIp(primary, "v1")}:5000`, "outbound_.5000_._.helloworld.sample.svc.cluster.local");
        assert.equal((saw.foreignRoot as { withMeshCertificate: number }).withMeshCertificate, 200, "the same call with the client's own certificate is answered");
        assert.equal((saw.foreignRoot as { refused: boolean }).refused, true, "a foreign root's certificate is refused");
    });

    await step("5. a second pulumi up changes nothing", async (saw) => {
        const up = await stack.up(options);
        saw.resourceChanges = up.summary.resourceChanges;
        // Only "same", and the reads of the gateway Services' addresses that every update makes.
        assert.deepEqual(Object.keys(up.summary.resourceChanges ?? {}).filter((op) => op !== "same" && op !== "read"), []);
    });

    await step("5b. rotating a remote's token from the config: the new token is in the remote secret before the old one is deleted", async (saw) => {
        const before = await remoteSecret(state, primary, remote1);
        configure([primary, remote1], undefined, { [remote1.name]: "2" });
        // The gateways' autoscalers add their second pod one sync period after install, maybe while
        // this step's requests run; kwok reports it ready before its Envoy stand-in listens (a kubelet
        // would wait for its readiness probe), so a request sent to it then would fail for the environment's sake.
        saw.gateways = await gatewaysServe([primary, remote1]);
        const events: EngineEvent[] = [];
        const [up, during] = await trafficDuring(() => stack.up({ ...options, onEvent: (e) => events.push(e) }));
        assert.equal(up.summary.result, "succeeded");
        saw.trafficDuringRotation = during;
        assert.equal(during.failed, 0, `no request failed while the token rotated (${during.sent} sent)`);
        assert.ok(during.byVersion.v1 > 0 && during.byVersion.v2 > 0, "both versions answered throughout");
        // The steps that changed something, in the order the engine ran them.
        const order = changingSteps(events).map(({ op, name }) => `${op} ${name}`);
        saw.order = order;
        const token = `${remote1.name}-remote-secret-reader-token`;
        // New token first, then the remote secret updated in place (never deleted), then the old token deleted.
        assert.deepEqual(order, [`create-replacement ${token}`, `replace ${token}`, `update ${remote1.name}-remote-secret-secret-${primary.name}`, `delete-replaced ${token}`]);
        const after = await remoteSecret(state, primary, remote1);
        saw.tokenChanged = before.tokenFingerprint !== after.tokenFingerprint;
        assert.ok(saw.tokenChanged, "the remote secret holds a new token");
        assert.equal(after.tokenAccepted, true, "the new token works");
        // The API server stops accepting a legacy token once its Secret is gone (through its cache: soon, not at once).
        await eventually(async () => assert.equal(await tokenAccepted(before.kubeconfig), false, "the old token no longer works"));
        saw.clusters = await istiodSees(remote1);
    });

    await step("5c. a gateway's load-balancer Service settings, istiod's resources and other chart values reach the objects the charts render", async (saw) => {
        // Set in the stack file since the first up (`tuned`).
        const svc = await coreOf(state, remote1).readNamespacedService({ name: "istio-eastwestgateway", namespace: "istio-system" });
        saw.service = { annotation: svc.metadata?.annotations?.[tunedAnnotation], externalTrafficPolicy: svc.spec?.externalTrafficPolicy };
        assert.deepEqual(saw.service, { annotation: "internet-facing", externalTrafficPolicy: "Local" });
        const apps = (c: SimCluster) => kubeConfigOf(state, c).makeApiClient(AppsV1Api);
        const gw = await apps(remote1).readNamespacedDeployment({ name: "istio-eastwestgateway", namespace: "istio-system" });
        const istiod = await apps(primary).readNamespacedDeployment({ name: "istiod", namespace: "istio-system" });
        saw.gatewayPod = { cpu: gw.spec?.template.spec?.containers[0]?.resources?.requests?.cpu, annotation: gw.spec?.template.metadata?.annotations?.["e2e.istio-multicluster/values"] };
        saw.istiodRequests = istiod.spec?.template.spec?.containers[0]?.resources?.requests;
        assert.deepEqual(saw.gatewayPod, { cpu: "150m", annotation: "merged" });
        assert.deepEqual(saw.istiodRequests, { cpu: "250m", memory: "512Mi" });
    });

    await step("6. adding a remote changes only the primary's mesh networks and adds its remote secret; removing it takes back exactly that", async (saw) => {
        // Asserted on the updates' own steps (what their previews would show, run).
        configure([primary, remote1, remote2], sampleVersions, { [remote1.name]: "2" });
        const events: EngineEvent[] = [];
        const start = Date.now();
        const up = await stack.up({ ...options, onEvent: (e) => events.push(e) });
        saw.addSeconds = (Date.now() - start) / 1000;
        assert.equal(up.summary.result, "succeeded");
        const ops = collectSteps(events);
        saw.add = ops;
        const elsewhere = Object.entries(ops).filter(([name]) => !name.startsWith(`${remote2.name}`));
        assert.deepEqual(elsewhere, [[`${primary.name}-cluster-aware-routing-mesh-networks`, "update"]]);
        assert.equal(ops[`${remote2.name}-remote-secret-secret-${primary.name}`], "create");
        const added = Object.keys(ops).filter((n) => ops[n] === "create").sort();
        saw.clustersWithBoth = await istiodSees(remote2);
        saw.endpointsWithBoth = await helloEndpoints([
            `${await podIp(primary, "v1")}:5000`,
            `${await gatewayAddress(state, remote1)}:15443`,
            `${await gatewayAddress(state, remote2)}:15443`,
        ]);

        configure([primary, remote1], undefined, { [remote1.name]: "2" });
        const removeEvents: EngineEvent[] = [];
        assert.equal((await stack.up({ ...options, onEvent: (e) => removeEvents.push(e) })).summary.result, "succeeded");
        const removeOps = collectSteps(removeEvents);
        saw.remove = removeOps;
        assert.deepEqual(Object.keys(removeOps).filter((n) => removeOps[n] === "delete").sort(), added);
        assert.deepEqual(Object.entries(removeOps).filter(([, op]) => op !== "delete"), [[`${primary.name}-cluster-aware-routing-mesh-networks`, "update"]]);
        saw.endpointsAfterRemove = await helloEndpoints([`${await podIp(primary, "v1")}:5000`, `${await gatewayAddress(state, remote1)}:15443`]);
        saw.clustersAfterRemove = await istiodSees(remote2, false);
    });

    await step("7. a remote API server down: istiod keeps serving cluster1, pulumi up names the cluster, then converges once it is back", async (saw) => {
        const restart = stopApiServer(remote1);
        try {
            const istiod = await istiodAddress(state);
            assert.ok(await istiodReady(istiod), "istiod stays ready");
            const endpoints = xdsEndpoints(state, istiod, primary);
            saw.endpointsWhileDown = endpoints;
            assert.ok(endpoints.includes(`${await podIp(primary, "v1")}:5000`), "cluster1's endpoint still served");
            const failed = await stack.up({ ...options, refresh: true }).then(
                () => undefined,
                (e: unknown) => `${String((e as { stdout?: string }).stdout ?? "")}\n${String((e as { stderr?: string }).stderr ?? e)}`,
            );
            assert.ok(failed !== undefined, "pulumi up failed while the API server was down");
            const errors = failed.split("\n").filter((l) => /error:/.test(l) && / (kubernetes|pulumi):\S+ cluster\d/.test(l));
            saw.errorLines = [...new Set(errors.map((l) => l.trim()))].slice(0, 4);
            assert.ok(errors.length > 0, "the failure names the resources it could not read");
            assert.ok(errors.every((l) => l.includes(` ${remote1.name}`)), `every failing resource is on ${remote1.name}`);
            assert.ok(errors.some((l) => /unreachable cluster/.test(l)), "the failure says the cluster is unreachable");
        } finally {
            restart();
        }
        const up = await eventually(() => stack.up({ ...options, refresh: true }), 120_000);
        saw.resourceChangesAfter = up.summary.resourceChanges;
        assert.equal(up.summary.result, "succeeded");
    });

    const pageEndpoints = async () => [`${await podIp(primary, "v1")}:5000`, `${await gatewayAddress(state, remote1)}:15443`];

    await step("7b. istiod's process killed: restarted as a kubelet would, it comes back with the same root, re-syncs the remote and serves the same endpoints", async (saw) => {
        const rootBefore = (await caRootCertOf(state, remote1, "sample")).root;
        const endpointsBefore = await helloEndpoints(await pageEndpoints());
        // One istiod process (those of replaced pods are gone within their grace period).
        const pids = await eventually(() => {
            const found = execFileSync("pgrep", ["-x", "pilot-discovery"], { encoding: "utf8" }).trim().split("\n");
            assert.equal(found.length, 1, `one istiod process (${found.join(", ")})`);
            return found;
        }, 90_000);
        process.kill(Number(pids[0]), "SIGKILL");
        const start = Date.now();
        saw.clusters = await istiodSees(remote1, true, "", 120_000); // a kubelet's back-off, then istiod's start
        saw.restartedAfterSeconds = (Date.now() - start) / 1000;
        const after = execFileSync("pgrep", ["-x", "pilot-discovery"], { encoding: "utf8" }).trim();
        assert.notEqual(after, pids[0], "a new process");
        saw.endpoints = await helloEndpoints(endpointsBefore);
        // It re-read cacerts: the root it hands out (istio-ca-root-cert, rewritten at start) is the shared one, no root of its own.
        const chain = await cacertsChain(state, primary);
        saw.root = await eventually(async () => {
            const root = (await caRootCertOf(state, remote1, "sample")).root;
            assert.equal(root, rootBefore);
            assert.equal(root, chain.root);
            return root;
        });
    });

    await step("7c. two runs at once on one stack: the second is refused by the backend's lock, the first completes, nothing is lost", async (saw) => {
        configure([primary, remote1], undefined, { [remote1.name]: "3" }); // a token rotation: an update of a few seconds
        const locks = path.join(state.dir, "pulumi-state", ".pulumi", "locks");
        const lockFiles = (dir: string): string[] =>
            fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? lockFiles(path.join(dir, e.name)) : [e.name])) : [];
        const first = stack.up(options);
        await eventually(() => assert.ok(lockFiles(locks).length > 0, "the first run holds the lock"), 30_000);
        const second = await stack.up(options).then(
            () => "succeeded",
            (e: unknown) => `${String((e as { stderr?: string }).stderr ?? e)}`,
        );
        saw.second = second.split("\n").filter((l) => /lock/i.test(l)).slice(0, 2);
        assert.match(second, /locked/i, "the second run is refused by the lock");
        const done = await first;
        assert.equal(done.summary.result, "succeeded");
        saw.firstChanges = done.summary.resourceChanges;
        const preview = await stack.preview(options);
        saw.afterwards = preview.changeSummary;
        assert.deepEqual(Object.keys(preview.changeSummary).filter((op) => op !== "same" && op !== "read"), [], "nothing left to do: nothing was lost");
        assert.deepEqual(lockFiles(locks), [], "no lock left behind");
    });

    await step("7d. drift: a deleted remote secret, edited mesh networks and a deleted cacerts show in preview --refresh, and up --refresh restores each", async (saw) => {
        const core = coreOf(state, primary);
        await core.deleteNamespacedSecret({ name: `istio-remote-secret-${remote1.name}`, namespace: "istio-system" });
        await core.deleteNamespacedSecret({ name: "cacerts", namespace: "istio-system" });
        // Edited by hand (another field manager than the program's), as `kubectl edit` would.
        const cm = await core.readNamespacedConfigMap({ name: "istio", namespace: "istio-system" });
        await core.replaceNamespacedConfigMap({
            name: "istio",
            namespace: "istio-system",
            fieldManager: "kubectl-edit",
            body: { ...cm, data: { ...cm.data, meshNetworks: JSON.stringify({ networks: {} }) } },
        });
        saw.endpointsDrifted = await helloEndpoints([`${await podIp(primary, "v1")}:5000`]);
        // Without the remote secret istiod no longer knows v2: only v1 answers (and v2 again once restored, below).
        saw.trafficDrifted = await eventually(async () => {
            const t = tally(await requestsFrom(state, primary, 10));
            assert.deepEqual(Object.keys(t.byCluster), [primary.name], "only v1 answers without the remote secret");
            return t;
        });
        const events: EngineEvent[] = [];
        await stack.preview({ ...options, refresh: true, onEvent: (e) => events.push(e) });
        const ops = Object.fromEntries(Object.entries(collectSteps(events)).filter(([, op]) => op !== "refresh"));
        saw.preview = ops;
        assert.deepEqual(ops, {
            [`${remote1.name}-remote-secret-secret-${primary.name}`]: "create",
            [`${primary.name}-cacerts`]: "create",
            [`${primary.name}-cluster-aware-routing-mesh-networks`]: "update",
        }, "each drift, and nothing else, is a change to undo");
        const up = await stack.up({ ...options, refresh: true });
        assert.equal(up.summary.result, "succeeded");
        assert.ok(await hasCacerts(state, primary), "cacerts restored");
        saw.remoteSecret = (await remoteSecret(state, primary, remote1)).tokenAccepted;
        const networks = await meshNetworksOf(state, primary);
        saw.meshNetworksRestored = Object.keys(networks.networks).sort();
        saw.endpoints = await helloEndpoints(await pageEndpoints());
        assert.deepEqual(saw.meshNetworksRestored, [primary.network, remote1.network].sort(), "mesh networks restored");
        saw.trafficRestored = await traffic(20, [primary, remote1], [remote1]);
    });

    await step("7e. a remote unreachable during an update that touches every cluster: it fails naming that cluster, keeps the primary's change in the state, and converges once it is back", async (saw) => {
        writeStackFile(state, [primary, remote1], { tokenRotations: { [remote1.name]: "3" }, ...tuned("1") });
        const inState = async (name: string) => {
            const exported = await stack.exportStack();
            const resources = (exported.deployment as { resources?: { urn: string; inputs?: { values?: { service?: { annotations?: Record<string, string> } } } }[] }).resources ?? [];
            return resources.find((r) => r.urn.endsWith(`::${name}`))?.inputs?.values?.service?.annotations?.[CHANGE_ANNOTATION];
        };
        const restart = stopApiServer(remote1);
        const start = Date.now();
        try {
            const failed = await stack.up(options).then(
                () => undefined,
                (e: unknown) => `${String((e as { stdout?: string }).stdout ?? "")}\n${String((e as { stderr?: string }).stderr ?? e)}`,
            );
            saw.failedAfterSeconds = (Date.now() - start) / 1000;
            assert.ok(failed !== undefined, "pulumi up failed while the remote's API server was down");
            const errors = failed.split("\n").filter((l) => /error:/.test(l) && / (kubernetes|pulumi):\S+ cluster\d/.test(l));
            saw.errorLines = [...new Set(errors.map((l) => l.trim()))].slice(0, 4);
            assert.ok(errors.length > 0 && errors.every((l) => l.includes(` ${remote1.name}`)), `the failure names ${remote1.name} only`);
            saw.stateAfterFailure = { [primary.name]: await inState(`${primary.name}-network-gateway`), [remote1.name]: await inState(`${remote1.name}-network-gateway`) };
            assert.deepEqual(saw.stateAfterFailure, { [primary.name]: "1", [remote1.name]: undefined }, "the primary's change is recorded, the remote's is not");
        } finally {
            restart();
        }
        const up = await eventually(() => stack.up(options), 120_000);
        assert.equal(up.summary.result, "succeeded");
        saw.convergedChanges = up.summary.resourceChanges;
        assert.equal(await inState(`${remote1.name}-network-gateway`), "1");
        saw.endpoints = await helloEndpoints(await pageEndpoints());
    });

    // The canary upgrade, between the two Istio versions the toolchain built (newest first).
    const [NEW, OLD] = state.istioVersions;
    const newRev = revisionNameOf(NEW);
    await step("7f. pulumi up from empty interrupted by Ctrl-C while Helm installs: no lock, no pending operation, the release marked failed; the next pulumi up converges (README: Recovering from an interrupted up)", async (saw) => {
        assert.equal((await stack.destroy(options)).summary.result, "succeeded");
        const start = Date.now();
        const stopped = await interruptedUp("sigint");
        saw.interrupted = stopped;
        assert.notEqual(stopped.result, "succeeded", "the up was stopped");
        saw.releasesAfter = await releasesEverywhere();
        const after = await stateOf(stack);
        saw.stateAfter = after;
        assert.deepEqual(after.pending, [], "Ctrl-C lets the engine finish or fail each step in flight: nothing pending");
        // README, step 1 for Ctrl-C: run pulumi up again. Here istiod's new pod is reported ready (kwok)
        // before its process listens, unlike with a kubelet's readiness probe, while the validation
        // webhook the interrupted run's istiod set to Fail is still there: the first run may be refused
        // by it, so it runs a second time (recorded in the report).
        const first = await stack.up(options).catch((e: unknown) => e as Error);
        if (first instanceof Error) {
            saw.firstRecoveryRun = String(first).match(/failed calling webhook "[^"]+"[^\n]{0,160}/)?.[0] ?? String(first).split("\n")[0];
            assert.match(String(first), /failed calling webhook "validation\.istio\.io".*connection refused/, "only the simulated readiness race");
        }
        const up = first instanceof Error ? await stack.up(options) : first;
        assert.equal(up.summary.result, "succeeded");
        saw.recoveredSeconds = (Date.now() - start) / 1000;
        saw.releases = await releasesSettled();
        const recovered = await stateOf(stack);
        assert.deepEqual([recovered.resources, recovered.pending], [cleanResources, []], "every declared resource once, as after a clean up");
        saw.mesh = await meshWorks();
    });

    await step("7g. pulumi up from empty killed hard (CLI and plugins, SIGKILL) while Helm installs: lock, pending creates and a pending-install release left; the README's steps (cancel, refresh --clear-pending-creates, Helm's pending record deleted, up) converge", async (saw) => {
        assert.equal((await stack.destroy(options)).summary.result, "succeeded");
        const start = Date.now();
        const stopped = await interruptedUp("kill");
        saw.interrupted = stopped;
        assert.notEqual(stopped.result, "succeeded");
        const left = { releases: await releasesEverywhere(), state: await stateOf(stack) };
        saw.left = left;
        assert.ok(left.state.pending.length > 0, "the state records the creates the CLI did not see finish");
        assert.ok(Object.values(left.releases).some((r) => Object.values(r).includes("pending-install")), "Helm still says pending-install");
        await assert.rejects(stack.up(options), /locked/, "the lock of the killed run is still there");
        // README, the steps after a hard kill:
        await stack.cancel(); // 1. pulumi cancel: the lock goes
        await stack.refresh({ ...options, clearPendingCreates: true }); // 2. pulumi refresh --clear-pending-creates
        for (const c of state.clusters) {
            // 3. kubectl -n istio-system delete secret -l owner=helm,status=pending-install (Helm's record only)
            await coreOf(state, c).deleteCollectionNamespacedSecret({ namespace: "istio-system", labelSelector: "owner=helm,status=pending-install" });
        }
        const up = await stack.up(options); // 4. pulumi up
        assert.equal(up.summary.result, "succeeded");
        saw.recoveredSeconds = (Date.now() - start) / 1000;
        saw.releases = await releasesSettled();
        const recovered = await stateOf(stack);
        assert.deepEqual([recovered.resources, recovered.pending], [cleanResources, []], "every declared resource once, nothing pending");
        // Nothing on a cluster the state does not know: the remote's token Secrets are as many as after a clean install (no second reader token).
        const tokens = await tokenSecrets();
        saw.tokenSecrets = tokens;
        assert.equal(tokens.length, cleanTokens, `token Secrets on ${remote1.name}: ${tokens.join(", ")}`);
        saw.mesh = await meshWorks();
    });

    const all = [primary, remote1, remote2];
    const previewOps = async () => {
        const events: EngineEvent[] = [];
        await stack.preview({ ...checked, onEvent: (e) => events.push(e) });
        return collectSteps(events);
    };
    const named = (ops: Record<string, string>, op: string) => Object.keys(ops).filter((n) => ops[n] === op).sort();
    const onEvery = (...roles: string[]) => all.flatMap((c) => roles.map((r) => `${c.name}-${r}`)).sort();
    // The control plane without revision: its objects carry no suffix.
    const oldPieces = [`${primary.name}-cluster-aware-routing-mesh-networks`, `${primary.name}-istiod-vs`, ...onEvery("istiod")].sort();
    /** Where proxies injected by the control plane without revision dial, and the revision its injector writes in their status. */
    const [UNREVISIONED_DISCOVERY, UNREVISIONED_INJECTOR] = ["istiod.istio-system.svc:15012", "default"];
    const newPieces = [`${primary.name}-cluster-aware-routing-mesh-networks-${newRev}`, `${primary.name}-istiod-vs-${newRev}`, ...onEvery(`istiod-${newRev}`)].sort();
    const expectedEndpoints = async () => [`${await podIp(primary, "v1")}:5000`, `${await gatewayAddress(state, remote1)}:15443`, `${await gatewayAddress(state, remote2)}:15443`];

    await step("8. pulumi destroy removes everything; then pulumi up from empty (two remotes) converges again, on the older Istio without revisions (istio.version), with the CA from files (ca.source: files; until here the generated default)", async (saw) => {
        const destroyStart = Date.now();
        const destroyed = await stack.destroy(options);
        saw.destroySeconds = (Date.now() - destroyStart) / 1000;
        assert.equal(destroyed.summary.result, "succeeded");
        saw.leftovers = await nothingLeft();
        writeStackFile(state, all, { istio: { version: OLD }, sampleVersions, ca: "files" });
        const start = Date.now();
        const up = await stack.up(checked);
        saw.reinstallTwoRemotesSeconds = (Date.now() - start) / 1000;
        assert.equal(up.summary.result, "succeeded");
        assert.deepEqual([up.outputs.istioVersion?.value, up.outputs.revisions?.value, up.outputs.defaultRevision?.value], [OLD, [], undefined]);
        saw.memoryMiB = environmentMemoryMiB(NETNS);
        saw.endpoints = await helloEndpoints(await expectedEndpoints());
        saw.discoveryAddresses = await agentsDial([primary, remote1], UNREVISIONED_DISCOVERY);
        // The gateways' autoscalers add their second pod after the release is installed.
        saw.gateways = await gatewaysServe(all);
        // v2 on both remotes: answers come through each remote's gateway.
        saw.traffic = await traffic(30, all, [remote1, remote2]);
    });

    // The canary from an install without revisions (README, "Upgrade Istio by revision"): that control
    // plane stays as the revision "" until the last step, so the proxies it serves never lose it.
    const withBoth = (defaultRevision: string) => ({ revisions: [{ name: "", version: OLD }, { version: NEW }], defaultRevision, baseVersion: NEW });

    await step(`9. upgrade 1/3, add ${NEW} beside the control plane without revision: the preview adds only its control plane and remote pieces (and moves base); both istiods serve, with requests flowing`, async (saw) => {
        writeStackFile(state, all, { istio: withBoth(""), sampleVersions, ca: "files" });
        const ops = await previewOps();
        saw.preview = ops;
        assert.deepEqual(named(ops, "create"), newPieces);
        assert.deepEqual(named(ops, "update"), onEvery("base"));
        assert.deepEqual(Object.keys(ops).length, newPieces.length + all.length, "nothing but creates and base updates");
        const [up, during] = await trafficDuring(() => stack.up(options));
        assert.equal(up.summary.result, "succeeded");
        saw.trafficDuringUpdate = during;
        assert.equal(during.failed, 0, `no request failed while the new revision was added (${during.sent} sent)`);
        for (const revision of ["", newRev]) {
            saw[`clusters ${revision || "without revision"}`] = await istiodSees(remote2, true, revision);
            saw[`endpoints ${revision || "without revision"}`] = await helloEndpoints(await expectedEndpoints(), revision);
        }
        const pods = await samplePods(state, remote1);
        saw.v2InjectedBy = pods.map((p) => p.revision);
        assert.ok(pods.every((p) => p.revision === UNREVISIONED_INJECTOR), "running workloads stay on the control plane without revision");
    });

    await step(`10. upgrade 2/3, default to ${newRev}: the preview adds the default tag and changes base, istiod without revision (its webhooks handed to the tag) and the gateways; running proxies keep their istiod; restarted pods are injected by ${newRev}`, async (saw) => {
        writeStackFile(state, all, { istio: withBoth(newRev), sampleVersions, ca: "files" });
        const ops = await previewOps();
        saw.preview = ops;
        assert.deepEqual(named(ops, "create"), onEvery("revision-tag-default"));
        // The mesh networks of istiod without revision are re-applied after its Helm upgrade rewrites its ConfigMap.
        assert.deepEqual(named(ops, "update"), [...onEvery("base", "istiod", "network-gateway"), `${primary.name}-cluster-aware-routing-mesh-networks`].sort());
        assert.deepEqual(Object.keys(ops).length, 4 * all.length + 1, "nothing replaced or deleted");
        const [up, during] = await trafficDuring(() => stack.up(options));
        assert.equal(up.summary.result, "succeeded");
        saw.trafficDuringUpdate = during;
        // The gateways roll to the new revision in this up. kwok reports a new gateway pod ready as it
        // starts, before its Envoy stand-in listens, and the old ones stop without Envoy's drain (a real
        // kubelet waits for the readiness probe; pilot-agent drains Envoy first): connections to a
        // rolling gateway may fail here, and nothing else may.
        const gateways = await Promise.all(all.map((c) => gatewayAddress(state, c)));
        const elsewhere = during.failures.filter((f) => !gateways.some((a) => f.includes(`${a}:15443`)));
        assert.deepEqual(elsewhere, [], `no request failed but at a rolling gateway (${during.sent} sent)`);
        assert.ok(during.failed <= Math.ceil(during.sent * 0.05), `${during.failed} of ${during.sent} requests failed while the default moved`);
        // One injector per cluster: the tag, not the unrevisioned istiod's own webhook.
        saw.injectors = await Promise.all(all.map(async (c) => {
            const found = await unrevisionedInjectors(c);
            assert.deepEqual(found, [], `${c.name}: istiod without revision still has its webhooks`);
            return found;
        }));
        // The proxies not yet restarted are still served by istiod without revision: configuration and certificates.
        saw.discoveryAddressesBeforeRestart = await agentsDial([primary, remote1], UNREVISIONED_DISCOVERY);
        saw.endpointsWithoutRevision = await helloEndpoints(await expectedEndpoints());
        saw.trafficBeforeRestart = await traffic(20, all, [remote1, remote2]);
        // Restart the workloads (a kubelet-less rollout: delete the pods; their ReplicaSets make new ones).
        for (const c of [primary, remote1]) {
            const core = kubeConfigOf(state, c).makeApiClient(CoreV1Api);
            await core.deleteCollectionNamespacedPod({ namespace: "sample" });
        }
        const injectedBy = await eventually(async () => {
            const pods = [...(await samplePods(state, primary)), ...(await samplePods(state, remote1))];
            assert.deepEqual(
                pods.filter((p) => !(p.injected && p.revision === newRev)).map((p) => `${p.name}: ${p.revision || "not injected"}`),
                [],
                `every restarted pod injected by ${newRev}`,
            );
            assert.equal(pods.length, 3);
            return pods.map((p) => `${p.name}: ${p.revision}`);
        }, 120_000);
        saw.injectedBy = injectedBy;
        // The gateways restarted on the new revision with the chart upgrade.
        saw.gatewaysInjectedBy = await eventually(async () => {
            const gateways = (await Promise.all(all.map((c) => samplePods(state, c, "istio-system")))).flat().filter((p) => p.app === "istio-eastwestgateway");
            // Two per cluster once the autoscaler has its minimum (the Deployment starts with one).
            assert.ok(gateways.length >= all.length, `${gateways.length} gateway pods`);
            assert.ok(gateways.every((p) => p.revision === newRev), gateways.map((p) => `${p.name}: ${p.revision}`).join(", "));
            return gateways.map((p) => `${p.name}: ${p.revision}`);
        });
        saw.endpoints = await helloEndpoints(await expectedEndpoints(), newRev);
        // Pods injected by the new revision got their certificates and configuration from its istiod, and still reach both versions.
        saw.discoveryAddresses = await agentsDial([primary, remote1], `istiod-${newRev}.istio-system.svc:15012`);
        const root = await meshRoot();
        for (const c of [primary, remote1]) {
            // Once each restarted pod's agent has its certificate (the pods were just made).
            saw[`certificates ${c.name}`] = await eventually(async () => {
                const certs = await workloadCertificates(state, c, root);
                assert.ok(certs.length > 0 && certs.every((x) => x.chainsToRoot), `${c.name}: the re-injected pods have certificates under the root: ${JSON.stringify(certs)}`);
                return certs;
            });
        }
        saw.traffic = await traffic(30, all, [remote1, remote2]);
    });

    await step("11. upgrade 3/3, remove the control plane without revision: the preview removes exactly its pieces; nothing of it is left, with requests flowing", async (saw) => {
        writeStackFile(state, all, { istio: { revisions: [{ version: NEW }] }, sampleVersions, ca: "files" });
        const ops = await previewOps();
        saw.preview = ops;
        assert.deepEqual([named(ops, "delete"), Object.keys(ops).length], [oldPieces, oldPieces.length]);
        const [up, during] = await trafficDuring(() => stack.up(options));
        assert.equal(up.summary.result, "succeeded");
        saw.trafficDuringUpdate = during;
        assert.equal(during.failed, 0, `no request failed while the old control plane was removed (${during.sent} sent)`);
        saw.left = await Promise.all(all.map((c) => eventually(async () => {
            const left = await revisionObjects(state, c, "default");
            assert.deepEqual(left, [], `${c.name} still has ${left.join(", ")}`);
            return left;
        })));
        await assert.rejects(istiodAddress(state, ""), "no istiod without revision runs");
        saw.endpoints = await helloEndpoints(await expectedEndpoints(), newRev);
    });

    await step("12. rollback of step 3 (the control plane without revision back, its webhooks left to the tag), then pulumi destroy with two control planes leaves nothing (step 13 reinstalls on the same clusters)", async (saw) => {
        writeStackFile(state, all, { istio: withBoth(newRev), sampleVersions, ca: "files" });
        const ops = await previewOps();
        assert.deepEqual([named(ops, "create"), Object.keys(ops).length], [oldPieces, oldPieces.length]);
        assert.equal((await stack.up(options)).summary.result, "succeeded");
        saw.clusters = await istiodSees(remote2, true, "");
        saw.injectors = await Promise.all(all.map(unrevisionedInjectors));
        assert.deepEqual(saw.injectors, all.map(() => []), "istiod without revision renders no webhooks while the tag is the default");
        const destroyed = await stack.destroy(options);
        assert.equal(destroyed.summary.result, "succeeded");
        saw.leftovers = await nothingLeft();
    });

    // Istio CI's mixed topology (prow/config/topology/multicluster.json): primaries cluster1 (network1)
    // and cluster3 (network2), cluster2 a remote of cluster1 on network1; helloworld v1 on cluster1, v2
    // on cluster2 and cluster3.
    const [p1, r1, p2] = all;
    const mixed = {
        topology: { primaries: [p1.name, p2.name], primaryOf: { [r1.name]: p1.name }, networks: { [r1.name]: "network1", [p2.name]: "network2" } },
        sampleVersions: { [p1.name]: ["v1"], [r1.name]: ["v2"], [p2.name]: ["v2"] },
        ca: "files" as const,
    };
    /** Each primary's istiod, once it reports every other cluster synced. */
    const everyIstiodSyncs = () =>
        Promise.all([p1, p2].map((p) => eventually(async () => {
            const seen = await istiodClusters(await istiodAddress(state, "", p));
            for (const c of all.filter((x) => x !== p)) assert.equal(seen[c.name], "synced", `${p.name}'s istiod has ${c.name} ${seen[c.name] ?? "not at all"}`);
            return { [p.name]: seen };
        }, 120_000)));
    /** {@link endpointsSeen} for a sidecar on its network in this stack. */
    const endpointsFrom = (istiod: SimCluster, sidecar: SimCluster, expected: () => Promise<readonly string[]>) =>
        endpointsSeen(istiod, { ...sidecar, network: (mixed.topology.networks as Record<string, string>)[sidecar.name] ?? sidecar.network }, expected);
    // Local pods and pods on its own network directly; the other network through its gateways on 15443.
    const seenFromNetwork1 = async () => [`${await podIp(p1, "v1")}:5000`, `${await podIp(r1, "v2")}:5000`, `${await gatewayAddress(state, p2)}:15443`];
    const seenFromNetwork2 = async () => [`${await podIp(p2, "v2")}:5000`, `${await gatewayAddress(state, p1)}:15443`, `${await gatewayAddress(state, r1)}:15443`];
    /** Requests from `from`'s client answered by every cluster, the other network's answers through `through` (its gateways), none through `direct`'s. */
    const crossNetwork = async (from: SimCluster, behind: readonly SimCluster[], through: readonly SimCluster[], direct: readonly SimCluster[]) => {
        const sum = (cs: readonly SimCluster[]) => cs.reduce((n, c) => n + connections(c), 0);
        const [throughBefore, directBefore] = [sum(through), sum(direct)];
        const answers = await eventually(async () => {
            const a = tally(await requestsFrom(state, from, 30));
            assert.equal(a.failed, 0, `${a.failed} of ${a.sent} requests failed: ${JSON.stringify(a.failures)}`);
            assert.deepEqual(Object.keys(a.byCluster).sort(), all.map((c) => c.name).sort(), "answered from every cluster that runs helloworld");
            return a;
        }, 120_000);
        const crossed = { through: sum(through) - throughBefore, direct: sum(direct) - directBefore };
        const fromBehind = behind.reduce((n, c) => n + (answers.byCluster[c.name] ?? 0), 0);
        assert.ok(crossed.through >= fromBehind && crossed.through > 0, `${through.map((c) => c.name).join("+")}'s gateways passed ${crossed.through} connections for ${fromBehind} answers from the other network`);
        assert.equal(crossed.direct, 0, `${direct.map((c) => c.name).join("+")}'s gateway passed connections from its own network`);
        return { ...answers, gatewayConnections: crossed };
    };

    await step("13. Istio CI's mixed topology from empty in one pulumi up (two primaries on two networks, a remote of one of them on its network), the reinstall after step 12's destroy: each istiod syncs every other cluster and serves its sidecars the split-horizon endpoints", async (saw) => {
        // Empty after step 12 (run alone, e.g. --steps 1,2,13: what is there goes first).
        if ((await stateOf(stack)).resources > 0) assert.equal((await stack.destroy(options)).summary.result, "succeeded");
        saw.leftovers = await nothingLeft();
        writeStackFile(state, all, mixed);
        const start = Date.now();
        const up = await stack.up(checked);
        saw.upSeconds = (Date.now() - start) / 1000;
        assert.equal(up.summary.result, "succeeded");
        saw.clusters = await everyIstiodSyncs();
        saw.endpointsOnNetwork1 = await endpointsFrom(p1, p1, seenFromNetwork1);
        saw.endpointsOnNetwork2 = await endpointsFrom(p2, p2, seenFromNetwork2);
        // The remote is injected and configured by its own primary, and signed by its intermediate.
        const proxies = async (p: SimCluster) => istiodProxies(await istiodAddress(state, "", p));
        saw.connected = await eventually(async () => {
            const [onP1, onP2] = await Promise.all([proxies(p1), proxies(p2)]);
            assert.ok(onP1.some((x) => x.cluster_id === r1.name && x.proxy.startsWith("helloworld-v2-")), `${r1.name}'s v2 is connected to ${p1.name}'s istiod`);
            assert.deepEqual(onP2.filter((x) => x.cluster_id === r1.name), [], `no proxy of ${r1.name} on ${p2.name}'s istiod`);
            return { [p1.name]: onP1.map((x) => `${x.cluster_id}/${x.proxy}`), [p2.name]: onP2.map((x) => `${x.cluster_id}/${x.proxy}`) };
        });
        const root = await meshRoot();
        for (const [c, signer] of [[p1, p1], [r1, p1], [p2, p2]] as const) {
            saw[`certificates ${c.name}`] = await eventually(async () => {
                const certs = await workloadCertificates(state, c, root);
                assert.ok(certs.length > 0 && certs.every((x) => x.chainsToRoot && x.issuer?.includes(`L=${signer.name}`)), `${c.name}'s workloads signed by ${signer.name}'s intermediate under the root: ${JSON.stringify(certs)}`);
                return certs;
            });
        }
        saw.gateways = await gatewaysServe(all);
    });

    await step("13b. mixed topology: requests cross both ways between the two primaries' networks (through the other network's gateways; on one network directly)", async (saw) => {
        saw.fromNetwork1 = await crossNetwork(p1, [p2], [p2], [r1]);
        saw.fromNetwork2 = await withClient(p2, () => crossNetwork(p2, [p1, r1], [p1, r1], []));
    });

    await step("13c. mixed topology: one primary's istiod stopped; the other keeps serving its sidecars every endpoint, only the stopped one's remote cannot inject; started again, it converges", async (saw) => {
        const pid = await istiodPidOf(p1);
        process.kill(pid, "SIGSTOP");
        try {
            await assert.rejects(istiodClusters(await istiodAddress(state, "", p1), 3000), `${p1.name}'s istiod still answers`);
            saw.endpointsOnNetwork2 = await endpointsFrom(p2, p2, seenFromNetwork2);
            saw.clusters = await istiodClusters(await istiodAddress(state, "", p2));
            // Injection: refused on the stopped primary's remote (its webhook calls that istiod), done on the other primary.
            const injection = {
                [r1.name]: await injectionOf(r1).catch((e: unknown) => `refused: ${/failed calling webhook[^\\"]*/.exec(String(e))?.[0] ?? String(e).slice(0, 300)}`),
                [p2.name]: await injectionOf(p2),
            };
            saw.injection = injection;
            assert.match(injection[r1.name], /^refused: failed calling webhook/, `${r1.name}'s pods cannot be injected without its primary`);
            assert.equal(injection[p2.name], "injected");
        } finally {
            process.kill(pid, "SIGCONT");
        }
        saw.clustersAfter = await everyIstiodSyncs();
        saw.endpointsOnNetwork1 = await endpointsFrom(p1, p1, seenFromNetwork1);
        saw.injectionAfter = await eventually(() => injectionOf(r1), 60_000);
        assert.equal(saw.injectionAfter, "injected");
    });

    await step("13d. mixed topology: pulumi destroy leaves nothing on any cluster; a reinstall converges", async (saw) => {
        assert.equal((await stack.destroy(options)).summary.result, "succeeded");
        saw.leftovers = await nothingLeft();
        assert.equal((await stack.up(options)).summary.result, "succeeded");
        saw.clusters = await everyIstiodSyncs();
        saw.endpointsOnNetwork1 = await endpointsFrom(p1, p1, seenFromNetwork1);
    });
}

async function main(): Promise<number> {
    const { values } = parseCommandLine({
        usage: [
            "usage: npm run e2e [-- --keep] [--steps LIST]",
            "  The program run for real on a simulated environment of its own (three clusters: one primary and two",
            "  remotes, then Istio CI's mixed topology of two primaries and a remote; Linux, root, Go): every step",
            "  asserted, a report in .e2e/report.json, logs in .sim/logs.",
            "  --keep        leave the environment up afterwards (npm run sim -- down removes it)",
            "  --steps LIST  run only these steps, e.g. 1,2,8-12 (a number takes its lettered steps too;",
            "                each step relies on what the ones before it leave): for working on some of them",
            "  -h, --help    this text",
        ].join("\n"),
        options: { keep: { type: "boolean" }, steps: { type: "string" }, "bin-dir": { type: "string" } },
    });
    if (typeof values.steps === "string") selected = stepSelection(values.steps);
    if (!inNamespace()) {
        if (hasState()) down();
        const started = Date.now();
        const binDir = await prepare();
        const code = reexecInNamespace(__filename, [
            "--bin-dir",
            binDir,
            ...(values.keep ? ["--keep"] : []),
            ...(typeof values.steps === "string" ? ["--steps", values.steps] : []),
        ]);
        if (!values.keep) down();
        console.log(`e2e: environment ${values.keep ? "kept (npm run sim -- down removes it)" : "removed"}; ${Math.round((Date.now() - started) / 1000)} s in all`);
        return code;
    }
    const simStart = Date.now();
    const state = await startInside(values["bin-dir"] as string, 2);
    results.push({ step: "sim up (one primary, two remotes)", passed: true, seconds: (Date.now() - simStart) / 1000, pulumi: {}, saw: { clusters: state.clusters.map((c) => c.name) } });
    await inside(state);
    const passed = results.filter((r) => r.passed).length;
    const failed = results.length - passed;
    const reportDir = path.join(ROOT, ".e2e");
    fs.mkdirSync(reportDir, { recursive: true });
    fs.writeFileSync(path.join(reportDir, "report.json"), JSON.stringify({ at: new Date().toISOString(), passed, failed, skipped, steps: results }, null, 2));
    console.log(`\nreport: .e2e/report.json; logs: .sim/logs (istiod, supervisor, pulumi)`);
    console.log(`e2e: ${passed} passed, ${failed} failed${skipped.length > 0 ? `, ${skipped.length} skipped (--steps)` : ""}`);
    return failed === 0 ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(`e2e: ${e instanceof Error ? e.stack : String(e)}`);
        process.exit(1);
    },
);
