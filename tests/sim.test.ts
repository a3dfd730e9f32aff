import { strict as assert } from "node:assert";
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import * as YAML from "yaml";
import { loadStackConfig } from "../lib/config";
import * as fs from "node:fs";
import * as path from "node:path";
import { missingChartKeys, processGroup } from "../sim/checks";
import { LoadBalancers } from "../sim/cloud-provider/load-balancers";
import { policies } from "../policy/rules";
import { POLICY_PACK, transpiledPolicyPack } from "../sim/pulumi";
import { type BackOff, INITIAL_BACKOFF_MS, MAX_BACKOFF_MS, nextBackOff, restartAt } from "../sim/kubelet/containers";
import { isStartable, istiodBinary, istiodProcess } from "../sim/istiod";
import { HOST_ADDRESS, LOCAL_RANGE, apiServerAtHostAddress, clusterPlan, kwokctlConfigYaml, loadBalancerAddress, nodeManifest, stackConfigYaml } from "../sim/topology";
import { kubeconfigText, tempDir, useFixtureKubeconfig } from "./support";

describe("the simulated environment (npm run sim)", () => {
    it("gives each cluster its own pod CIDR, node and load-balancer range, all inside the namespace's local range", () => {
        const clusters = clusterPlan(2);
        assert.deepEqual(clusters.map((c) => [c.name, c.network, c.role]), [
            ["cluster1", "network1", "primary"],
            ["cluster2", "network2", "remote"],
            ["cluster3", "network3", "remote"],
        ]);
        const ranges = clusters.flatMap((c) => [c.podCIDR.split("/")[0].split(".").slice(0, 2).join("."), c.serviceCIDR.split(".").slice(0, 2).join("."), c.nodeIP.split(".").slice(0, 2).join("."), c.lbPrefix.split(".").slice(0, 2).join(".")]);
        assert.equal(new Set(ranges).size, ranges.length, "no two ranges overlap");
        assert.equal(LOCAL_RANGE, "10.0.0.0/8");
        for (const r of ranges) assert.match(r, /^10\./);
        assert.equal(loadBalancerAddress(clusters[1], 1), "10.201.0.1");
        assert.throws(() => loadBalancerAddress(clusters[1], 255));
        assert.throws(() => clusterPlan(0), /--remotes: expected 1 to 50/);
        assert.deepEqual(nodeManifest(clusters[2]).spec, { podCIDR: "10.102.0.0/16", podCIDRs: ["10.102.0.0/16"] });
        // Ports of their own, so that they can be created at once (kwokctl picks the same free port for each otherwise).
        const ports = clusterPlan(50).flatMap((c) => Object.values(c.ports));
        assert.equal(new Set(ports).size, ports.length, "no two components share a port");
        assert.ok(ports.every((p) => p > 1024 && p < 32768), "below kwokctl's own range's top and the ephemeral ports");
    });

    it("writes a stack config the program accepts, differing from the defaults only in where charts come from and the version (the CA too when asked: files)", () => {
        const file = useFixtureKubeconfig();
        const clusters = clusterPlan(1).map((c, i) => ({ ...c, context: `kind-cluster${i + 1}` }));
        const text = stackConfigYaml({
            clusters,
            kubeconfig: file,
            // kwokctl's kubeconfig says 127.0.0.1; the environment hands istiod the namespace's own address.
            apiServers: { cluster1: apiServerAtHostAddress("https://127.0.0.1:32764"), cluster2: apiServerAtHostAddress("https://127.0.0.1:32758") },
            chartDirectory: "https://charts.example/istio",
            caDirectory: "/tmp/ca",
            istio: { version: "1.30.2" },
        });
        const config = (YAML.parse(text) as { config: Record<string, unknown> }).config;
        // The program's default CA (generate): no ca key at all.
        assert.deepEqual(Object.keys(config).sort(), ["istio-multicluster:istio", "istio-multicluster:primary", "istio-multicluster:remotes", "istio-multicluster:sample"]);
        assert.deepEqual(config["istio-multicluster:istio"], { version: "1.30.2", chartRepository: "https://charts.example/istio" });
        const withFiles = (YAML.parse(stackConfigYaml({ clusters, kubeconfig: file, apiServers: {}, chartDirectory: "/c", caDirectory: "/tmp/ca", istio: {}, ca: "files" })) as { config: Record<string, unknown> }).config;
        assert.deepEqual(withFiles["istio-multicluster:ca"], { source: "files", directory: "/tmp/ca" });
        const loaded = loadStackConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, JSON.stringify(v)])));
        assert.equal(loaded.ca.source, "generate");
        assert.equal(loaded.remotes[0].apiServer, `https://${HOST_ADDRESS}:32758`);
        assert.equal(loaded.istio.version, "1.30.2");
        assert.ok(kubeconfigText().length > 0);
    });

    it("has the API servers call webhooks at endpoints, and keeps controller-manager and scheduler running through an API server outage", () => {
        const config = YAML.parse(kwokctlConfigYaml(clusterPlan(1)[1])) as { options: Record<string, number>; componentsPatches: { name: string; extraArgs: { key: string; value: string }[] }[] };
        assert.deepEqual(config.options, { kubeApiserverPort: 31010, etcdPort: 31011, etcdPeerPort: 31012, kubeControllerManagerPort: 31013, kubeSchedulerPort: 31014, kwokControllerPort: 31015 });
        const patches = config.componentsPatches;
        const args = Object.fromEntries(patches.map((p) => [p.name, Object.fromEntries(p.extraArgs.map((a) => [a.key, a.value]))]));
        assert.deepEqual(args, {
            "kube-apiserver": { "enable-aggregator-routing": "true", "service-cluster-ip-range": "10.41.0.0/16" },
            "kube-controller-manager": { "leader-elect": "false", "horizontal-pod-autoscaler-sync-period": "5s" },
            "kube-scheduler": { "leader-elect": "false" },
        });
    });

    it("runs istiod's pod as a process: its container's args and env, field references resolved, cacerts from the API, listening on the pod's address", () => {
        const pod = {
            metadata: { name: "istiod-abc", namespace: "istio-system" },
            spec: {
                serviceAccountName: "istiod",
                containers: [
                    {
                        name: "discovery",
                        image: "docker.io/istio/pilot:1.31.0-dev.20260423",
                        args: ["discovery", "--monitoringAddr=:15014"],
                        env: [
                            { name: "REVISION", value: "default" },
                            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                            { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                            { name: "SERVICE_ACCOUNT", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
                            { name: "GOMAXPROCS", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
                        ],
                    },
                ],
            },
            status: { phase: "Running", podIP: "10.100.0.1" },
        } as V1Pod;
        const p = istiodProcess(pod, "/sim/istiod/kubeconfig", "/sim/istiod/cacerts");
        assert.deepEqual(p.args, [
            "discovery",
            "--monitoringAddr=:15014",
            "--kubeconfig",
            "/sim/istiod/kubeconfig",
            // Later flags win: every listener on the pod's address, so revisions run side by side.
            // istiod answers /debug only from loopback: its HTTP port on the pod address's loopback twin.
            "--httpAddr=127.100.0.1:8080",
            "--httpsAddr=10.100.0.1:15017",
            "--grpcAddr=10.100.0.1:15010",
            "--secureGRPCAddr=10.100.0.1:15012",
            "--monitoringAddr=10.100.0.1:15014",
            "--ctrlz_address=10.100.0.1",
        ]);
        // The pilot-discovery built for the image's tag, else the newest.
        assert.equal(istiodBinary(pod, ["pilot-discovery", "pilot-discovery-1.31.0-dev.20260423"]), "pilot-discovery-1.31.0-dev.20260423");
        assert.equal(istiodBinary(pod, ["pilot-discovery"]), "pilot-discovery");
        assert.deepEqual(p.env, {
            REVISION: "default",
            POD_NAME: "istiod-abc",
            POD_NAMESPACE: "istio-system",
            SERVICE_ACCOUNT: "istiod",
            USE_REMOTE_CERTS: "true",
            ROOT_CA_DIR: "/sim/istiod/cacerts",
            KUBECONFIG: "/sim/istiod/kubeconfig",
        });
        assert.equal(isStartable(pod), true);
        assert.equal(isStartable({ ...pod, status: { phase: "Pending" } }), false);
        assert.equal(isStartable({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date() } }), false);
    });

    it("finds Helm values the program sets that the installed charts do not define", () => {
        const dir = tempDir("charts-");
        const write = (chart: string, values: unknown, profile = false) => {
            fs.mkdirSync(path.join(dir, chart, "files"), { recursive: true });
            fs.writeFileSync(path.join(dir, chart, "values.yaml"), YAML.stringify(values));
            fs.writeFileSync(path.join(dir, chart, "Chart.yaml"), `name: ${chart}\n`);
            const file = path.join(dir, chart, "files", "profile-remote.yaml");
            if (profile) fs.writeFileSync(file, "");
            else fs.rmSync(file, { force: true });
        };
        write("base", { defaultRevision: "default" }, true);
        const resources = { requests: { cpu: "", memory: "" }, limits: { cpu: "", memory: "" } };
        write("gateway", {
            name: "",
            networkGateway: "",
            revision: "",
            replicaCount: null,
            autoscaling: { minReplicas: 1, maxReplicas: 5 },
            podDisruptionBudget: {},
            resources,
            service: { annotations: {}, loadBalancerIP: "", loadBalancerSourceRanges: [], externalTrafficPolicy: "" },
        });
        const templates = path.join(dir, "gateway", "templates");
        fs.mkdirSync(templates);
        // Read by the templates only: the budget as a whole, loadBalancerClass by hasKey (commented out in values.yaml).
        fs.writeFileSync(path.join(templates, "t.yaml"), '{{- with .Values.podDisruptionBudget }}{{ toYaml . }}{{ end }}\n{{- if hasKey .Values.service "loadBalancerClass" }}x{{ end }}\n');
        const istiod = {
            global: { hub: "", meshID: "", multiCluster: { clusterName: "" }, network: "", externalIstiod: false, configCluster: false, remotePilotAddress: "", operatorManageWebhooks: false },
            istiodRemote: { injectionPath: "/inject" },
            meshConfig: {},
            revision: "",
            replicaCount: 1,
            autoscaleMin: 1,
            autoscaleMax: 5,
            resources,
        };
        write("istiod", { _internal_defaults_do_not_set: istiod }, true);
        assert.deepEqual(missingChartKeys(dir, "1.30.3"), []);
        fs.rmSync(templates, { recursive: true });
        assert.deepEqual(missingChartKeys(dir, "1.30.3"), ["gateway: podDisruptionBudget.minAvailable", "gateway: service.loadBalancerClass"]);
        write("istiod", { _internal_defaults_do_not_set: { ...istiod, global: { ...istiod.global, remotePilotAddress: undefined } } }, false);
        assert.deepEqual(missingChartKeys(dir, "1.30.3"), [
            "istiod: profile",
            "istiod: global.remotePilotAddress",
            "gateway: podDisruptionBudget.minAvailable",
            "gateway: service.loadBalancerClass",
        ]);
    });

    it("tells the benchmark's process groups apart by their command line (where an up's CPU time goes)", () => {
        const cases: [string[], number, string][] = [
            [["/root/.cache/istio-multicluster-sim/current/pulumi", "up"], 1, "pulumi engine (CLI)"],
            [["/x/pulumi-resource-kubernetes", "--logtostderr"], 1, "kubernetes provider (and Helm)"],
            [["/x/bin/kubernetes-v1.36.3/kube-apiserver", "--etcd-servers=x"], 1, "API servers: kube-apiserver"],
            [["/x/pilot-discovery-1.31.0-dev.20260423", "discovery"], 1, "istiod"],
            [["/x/.sim/images/pilot-agent-1733000000000", "proxy", "sidecar"], 1, "pilot-agent (data plane)"],
            [["/x/.sim/images/envoy-stand-in-1733000000000"], 1, "Envoy stand-in and echo apps (data plane)"],
            [["node", "/x/node_modules/@pulumi/pulumi/cmd/run-policy-pack/index.js"], 1, "policy pack"],
            [["node", "/x/ts-node", "sim/supervisor.ts"], 1, "sim supervisor (kubelet, kube-proxy stand-ins)"],
            [["node", "/x/ts-node", "sim/bench.ts", "--one", "2"], 42, "program (inline) and the benchmark"],
            [["node", "/x/something-else.js"], 1, "other (node)"],
        ];
        for (const [argv, pid, group] of cases) assert.equal(processGroup(argv, 42, pid), group, argv.join(" "));
    });
});

describe("the environment's load-balancer controller (sim/cloud-provider)", () => {
    const cluster = clusterPlan(1)[1];
    const service = (uid: string, ip?: string, type = "LoadBalancer"): V1Service => ({
        metadata: { uid, name: `svc-${uid}`, namespace: "istio-system" },
        spec: { type },
        status: ip ? { loadBalancer: { ingress: [{ ip }] } } : {},
    });
    const controller = () => {
        const written: string[] = [];
        let fail = false;
        const lbs = new LoadBalancers(
            cluster,
            (name, _namespace, body) => {
                if (fail) return Promise.reject(new Error("conflict"));
                written.push(`${name} ${body.status?.loadBalancer?.ingress?.[0]?.ip}`);
                return Promise.resolve(body);
            },
            () => undefined,
        );
        return { lbs, written, failNext: (f: boolean) => (fail = f) };
    };

    it("gives each LoadBalancer Service the next free address once, even when it syncs again before its watch shows the address", async () => {
        const { lbs, written } = controller();
        await lbs.assign([service("a"), service("c", undefined, "ClusterIP")]);
        await lbs.assign([service("a"), service("b")]); // a's status not seen yet
        assert.deepEqual(written, ["svc-a 10.201.0.1", "svc-b 10.201.0.2"]);
        // Once a is gone, its address is free for the next one.
        await lbs.assign([service("b", "10.201.0.2")]);
        await lbs.assign([service("b", "10.201.0.2"), service("d")]);
        assert.deepEqual(written.slice(2), ["svc-d 10.201.0.1"]);
    });

    it("gives an address again when writing it failed", async () => {
        const { lbs, written, failNext } = controller();
        failNext(true);
        await assert.rejects(lbs.assign([service("a")]), /conflict/);
        failNext(false);
        await lbs.assign([service("a")]);
        assert.deepEqual(written, ["svc-a 10.201.0.1"]);
    });
});

describe("the environment's kubelet: container restarts (sim/kubelet)", () => {
    // A container that exits again and again, each time `ranMs` after its start, restarted as soon as allowed: its start times.
    const starts = (exits: number, ranMs: number) => {
        let entry: BackOff | undefined;
        let now = 0;
        const started = [now];
        for (let i = 0; i < exits; i++) {
            const finishedAt = now + ranMs;
            now = restartAt(entry, finishedAt);
            entry = nextBackOff(entry, finishedAt, now);
            started.push(now);
        }
        return started;
    };

    it("restarts a container's first exit at once, then after 10 s, doubling up to 5 min, as the kubelet does", () => {
        const waits = starts(8, 1000).map((t, i, all) => (i === 0 ? 0 : t - all[i - 1] - 1000));
        assert.deepEqual(waits, [0, 0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
        assert.deepEqual([INITIAL_BACKOFF_MS, MAX_BACKOFF_MS], [10_000, 300_000]);
    });

    it("forgets the back-off of a container that ran for over 10 minutes since it last grew", () => {
        const grown = nextBackOff(nextBackOff(undefined, 0, 0), 1000, 11_000); // restarted twice: 20 s
        assert.equal(grown.backoffMs, 20_000);
        assert.equal(restartAt(grown, 11_000 + 5_000), 11_000 + 5_000 + 20_000, "exits soon after: waits its back-off");
        assert.equal(restartAt(grown, 11_000 + 2 * MAX_BACKOFF_MS + 1), 11_000 + 2 * MAX_BACKOFF_MS + 1, "after 10 quiet minutes: at once");
        assert.equal(nextBackOff(grown, 11_000 + 2 * MAX_BACKOFF_MS + 1, 0).backoffMs, INITIAL_BACKOFF_MS, "and starts again from 10 s");
    });
});

describe("the environment's policy pack (sim/pulumi)", () => {
    it("is policy/ transpiled: the same policies, the same name and version, started from index.js", async () => {
        const out = transpiledPolicyPack(path.join(tempDir("policy-"), "pack"));
        assert.deepEqual(fs.readdirSync(out).sort(), ["PulumiPolicy.yaml", "index.js", "package.json", "rules.js"]);
        const manifest = JSON.parse(fs.readFileSync(path.join(out, "package.json"), "utf8")) as Record<string, unknown>;
        const source = JSON.parse(fs.readFileSync(path.join(POLICY_PACK, "package.json"), "utf8")) as Record<string, unknown>;
        assert.deepEqual(manifest, { ...source, main: "index.js" });
        const transpiled = (await import(path.join(out, "rules.js"))) as { policies: typeof policies };
        assert.ok(policies.length > 0);
        assert.deepEqual(transpiled.policies.map((p) => [p.name, p.enforcementLevel]), policies.map((p) => [p.name, p.enforcementLevel]));
    });
});
