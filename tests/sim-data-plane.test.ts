import { strict as assert } from "node:assert";
import type { V1EndpointSlice, V1Pod, V1Service } from "@kubernetes/client-node";
import { parseEchoOutput, tally } from "../sim/data-plane";
import { serviceTable } from "../sim/kube-proxy/proxy";
import { sandboxNames } from "../sim/kubelet/kubelet";
import { binaryForImage, containerEnv, containerUser, downwardApiFile, expand, hostsFile, istioProxy, resolvConf, runsHere, standInFor } from "../sim/kubelet/pod-spec";

const pod = (over: Partial<V1Pod> = {}): V1Pod => ({
    metadata: { name: "helloworld-v2-abc", namespace: "sample", uid: "0a1b2c3d-4e5f-6789-abcd-ef0123456789", labels: { app: "helloworld", version: "v2" }, annotations: { "sidecar.istio.io/status": "{}" } },
    spec: {
        serviceAccountName: "default",
        nodeName: "cluster2-node",
        containers: [
            { name: "helloworld", image: "docker.io/istio/examples-helloworld-v2:1.0", ports: [{ containerPort: 5000 }] },
            {
                name: "istio-proxy",
                image: "docker.io/istio/proxyv2:1.31.0-dev.20260827",
                args: ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "$$(NOT_EXPANDED)", "$(UNKNOWN)"],
                env: [
                    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                    { name: "INSTANCE_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                    { name: "ISTIO_META_APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
                    { name: "GOMAXPROCS", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
                    { name: "ISTIO_META_CLUSTER_ID", value: "cluster2" },
                    { name: "DOMAIN", value: "$(POD_NAMESPACE).svc" },
                ],
                securityContext: { runAsUser: 1337, runAsGroup: 1337 },
            },
        ],
    },
    status: { phase: "Running", podIP: "10.101.0.7", hostIP: "10.161.0.1" },
    ...over,
});

describe("the simulated environment's kubelet (sim/kubelet)", () => {
    it("gives a container its env with field references resolved and $(VAR) expanded, as a kubelet does", () => {
        const p = pod();
        const proxy = istioProxy(p);
        assert.ok(proxy);
        const env = containerEnv(p, proxy);
        assert.deepEqual(env, {
            POD_NAMESPACE: "sample",
            INSTANCE_IP: "10.101.0.7",
            ISTIO_META_APP: "helloworld",
            ISTIO_META_CLUSTER_ID: "cluster2",
            DOMAIN: "sample.svc",
        });
        assert.deepEqual((proxy.args ?? []).map((a) => expand(a, env)), ["proxy", "sidecar", "--domain", "sample.svc.cluster.local", "$(NOT_EXPANDED)", "$(UNKNOWN)"]);
    });

    it("finds istio-proxy as a container or as a native sidecar, and runs only pods it has something for", () => {
        const native = pod({ spec: { containers: [{ name: "app", image: "busybox" }], initContainers: [{ name: "istio-proxy", restartPolicy: "Always" }] } });
        assert.equal(istioProxy(native)?.name, "istio-proxy");
        assert.equal(istioProxy(pod({ spec: { containers: [{ name: "app" }], initContainers: [{ name: "istio-proxy" }] } })), undefined, "an ordinary init container is no sidecar");
        assert.equal(runsHere(pod()), true);
        assert.equal(runsHere(pod({ status: { phase: "Pending" } })), false, "not running yet");
        assert.equal(runsHere(pod({ metadata: { ...pod().metadata, deletionTimestamp: new Date() } })), false, "going");
        assert.equal(runsHere(pod({ spec: { containers: [{ name: "discovery" }, { name: "istio-proxy" }] } })), false, "istiod's pods are the supervisor's");
        assert.equal(runsHere(pod({ spec: { containers: [{ name: "nginx", image: "nginx" }] } })), false, "nothing to run");
    });

    it("stands helloworld's image in with the echo server at its version, and names what it does not run", () => {
        assert.deepEqual(standInFor({ name: "helloworld", image: "docker.io/istio/examples-helloworld-v2:1.0", ports: [{ containerPort: 5000 }] }), { kind: "echo-server", version: "v2", ports: [5000] });
        assert.equal(standInFor({ name: "istio-proxy" }).kind, "istio-proxy");
        assert.match((standInFor({ name: "curl", image: "docker.io/curlimages/curl:8.16.0" }) as { why: string }).why, /curlimages\/curl/);
    });

    it("writes the downward API's label file, /etc/hosts with each Service's names at its ClusterIP, and a resolv.conf that asks nobody", () => {
        assert.equal(downwardApiFile({ version: "v2", app: 'hello "world"' }), 'app="hello \\"world\\""\nversion="v2"');
        const services: V1Service[] = [
            { metadata: { name: "helloworld", namespace: "sample" }, spec: { clusterIP: "10.41.0.9" } },
            { metadata: { name: "istiod", namespace: "istio-system" }, spec: { clusterIP: "10.41.0.2" } },
            { metadata: { name: "headless", namespace: "sample" }, spec: { clusterIP: "None" } },
        ];
        const hosts = hostsFile(pod(), services);
        assert.match(hosts, /^10\.101\.0\.7\thelloworld-v2-abc$/m);
        assert.match(hosts, /^10\.41\.0\.9\thelloworld\.sample\.svc\.cluster\.local helloworld\.sample\.svc helloworld\.sample helloworld$/m);
        assert.match(hosts, /^10\.41\.0\.2\tistiod\.istio-system\.svc\.cluster\.local istiod\.istio-system\.svc istiod\.istio-system$/m, "short name only in the pod's own namespace");
        assert.doesNotMatch(hosts, /headless/);
        assert.equal(resolvConf("sample"), "search sample.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n");
    });

    it("runs a container as its own user, else the pod's, else root, and the binary built for its image's tag, else the newest", () => {
        const p = pod();
        assert.deepEqual(containerUser(p, istioProxy(p) ?? { name: "x" }), { user: 1337, group: 1337 });
        assert.deepEqual(containerUser(pod({ spec: { containers: [], securityContext: { runAsUser: 1000 } } }), { name: "app" }), { user: 1000, group: 1000 });
        assert.deepEqual(containerUser(p, { name: "helloworld" }), { user: 0, group: 0 });
        const built = ["pilot-agent", "pilot-agent-1.31.0-dev.20260423"];
        assert.equal(binaryForImage("pilot-agent", "docker.io/istio/proxyv2:1.31.0-dev.20260423", built), "pilot-agent-1.31.0-dev.20260423");
        assert.equal(binaryForImage("pilot-agent", "docker.io/istio/proxyv2:1.30.5", built), "pilot-agent");
        assert.equal(binaryForImage("pilot-agent", undefined, built), "pilot-agent");
    });

    it("names a pod's network namespace and veth from its uid, the veth within Linux's 15 characters", () => {
        const names = sandboxNames("0a1b2c3d-4e5f-6789-abcd-ef0123456789");
        assert.deepEqual(names, { netns: "istio-mc-pod-0a1b2c3d4e5f", veth: "p0a1b2c3d4e5f" });
        assert.ok(names.veth.length <= 15);
    });
});

describe("the simulated environment's kube-proxy (sim/kube-proxy)", () => {
    it("serves each Service port at its ClusterIP and load-balancer addresses, to the ready endpoints of its slices' port of that name", () => {
        const services: V1Service[] = [
            {
                metadata: { name: "gw", namespace: "istio-system" },
                spec: { clusterIP: "10.40.0.5", ports: [{ name: "tls", port: 15443 }, { name: "status", port: 15021 }, { name: "dns", port: 53, protocol: "UDP" }] },
                status: { loadBalancer: { ingress: [{ ip: "10.200.0.1" }] } },
            },
            { metadata: { name: "istiod", namespace: "istio-system" }, spec: { clusterIP: "10.40.0.6", ports: [{ name: "grpc-xds", port: 15012 }] } },
            { metadata: { name: "headless", namespace: "istio-system" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } },
        ];
        const slice = (service: string, ports: { name: string; port: number }[], endpoints: { address: string; ready?: boolean }[]): V1EndpointSlice => ({
            addressType: "IPv4",
            metadata: { namespace: "istio-system", labels: { "kubernetes.io/service-name": service } },
            ports,
            endpoints: endpoints.map((e) => ({ addresses: [e.address], conditions: { ready: e.ready } })),
        });
        const table = serviceTable(services, [
            slice("gw", [{ name: "tls", port: 15443 }, { name: "status", port: 15021 }], [{ address: "10.100.0.4" }, { address: "10.100.0.5", ready: false }]),
            // A selectorless Service's slice written by hand (a remote's istiod: the primary's gateway address).
            slice("istiod", [{ name: "grpc-xds", port: 15012 }], [{ address: "10.200.0.1" }]),
        ]);
        assert.deepEqual([...table.keys()].sort(), ["10.200.0.1:15021", "10.200.0.1:15443", "10.40.0.5:15021", "10.40.0.5:15443", "10.40.0.6:15012"]);
        assert.deepEqual(table.get("10.200.0.1:15443"), [{ address: "10.100.0.4", port: 15443 }], "only the ready endpoint");
        assert.deepEqual(table.get("10.40.0.6:15012"), [{ address: "10.200.0.1", port: 15012 }]);
    });
});

describe("requests on the simulated environment (sim/data-plane)", () => {
    it("reads the echo client's answers and tallies them by version, instance, cluster and peer identity", () => {
        const out = [
            "[0] Url=http://helloworld.sample:5000/hello",
            "[0] Latency=4.5ms",
            "[0] StatusCode=200",
            "[0 body] ServiceVersion=v1",
            "[0 body] Cluster=cluster1",
            "[0 body] RequestHeader=X-Forwarded-Client-Cert:By=spiffe://cluster.local/ns/sample/sa/default;URI=spiffe://cluster.local/ns/sample/sa/curl",
            "[0 body] Hostname=helloworld-v1-a",
            "[1] Latency=1.2s",
            "[1] StatusCode=200",
            "[1 body] ServiceVersion=v2",
            "[1 body] Cluster=cluster2",
            "[1 body] Hostname=helloworld-v2-b",
            "[2] StatusCode=503",
            "[2 body] upstream connect error",
        ].join("\n");
        const answers = parseEchoOutput(out);
        assert.deepEqual(answers[0], { status: 200, version: "v1", cluster: "cluster1", hostname: "helloworld-v1-a", peer: "spiffe://cluster.local/ns/sample/sa/curl", latencyMs: 4.5 });
        assert.equal(answers[1].latencyMs, 1200);
        const t = tally(answers);
        assert.deepEqual([t.sent, t.failed], [3, 1]);
        assert.deepEqual(t.failures, ["upstream connect error"]);
        assert.deepEqual(t.byVersion, { v1: 1, v2: 1 });
        assert.deepEqual(t.byCluster, { cluster1: 1, cluster2: 1 });
        assert.deepEqual(t.byPeer, { "spiffe://cluster.local/ns/sample/sa/curl": 1, "?": 1 });
        assert.deepEqual(t.latencyMs, { p50: 1200, p90: 1200, p99: 1200 });
    });
});
