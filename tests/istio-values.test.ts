import { strict as assert } from "node:assert";
import { KubeConfig } from "@kubernetes/client-node";
import * as YAML from "yaml";
import { unknownChartKeys } from "../lib/chart-keys";
import {
    baseValues,
    injectionPath,
    isIpAddress,
    loadBalancerAddress,
    meshNetworks,
    meshNetworksConfigMapValue,
    gatewayServiceName,
    istiodSizingValues,
    mergeValues,
    networkGatewayValues,
    primaryIstiodValues,
    remoteIstiodValues,
    remoteSecretKubeconfig,
} from "../lib/istio-values";

const cluster2 = { clusterName: "cluster2", network: "network2", meshId: "mesh1" };

describe("Istio values", () => {
    it("installs base with the remote profile on remotes only", () => {
        assert.deepEqual(baseValues("remote"), { profile: "remote" });
        assert.deepEqual(baseValues("primary"), {});
    });

    it("makes the primary istiod serve remotes, with its mesh, cluster and network, and log access", () => {
        assert.deepEqual(primaryIstiodValues({ clusterName: "cluster1", network: "network1", meshId: "mesh1" }, "docker.io/istio"), {
            global: {
                hub: "docker.io/istio",
                meshID: "mesh1",
                multiCluster: { clusterName: "cluster1" },
                network: "network1",
                externalIstiod: true,
            },
            meshConfig: { accessLogFile: "/dev/stdout" },
        });
    });

    it("points a remote's istiod chart at the primary, with its own injection path", () => {
        assert.deepEqual(remoteIstiodValues(cluster2, "docker.io/istio", "203.0.113.10"), {
            profile: "remote",
            global: {
                hub: "docker.io/istio",
                meshID: "mesh1",
                multiCluster: { clusterName: "cluster2" },
                network: "network2",
                configCluster: true,
                remotePilotAddress: "203.0.113.10",
            },
            istiodRemote: { injectionPath: "/inject/cluster/cluster2/net/network2" },
        });
        assert.equal(injectionPath({ clusterName: "east", network: "net-east" }), "/inject/cluster/east/net/net-east");
    });

    it("names the gateway's Service as the chart does: its name value, else the release name", () => {
        assert.equal(gatewayServiceName({ name: "eastwest" }, "istio-eastwestgateway"), "eastwest");
        assert.equal(gatewayServiceName({ name: "" }, "istio-eastwestgateway"), "istio-eastwestgateway");
        assert.equal(gatewayServiceName({}, "istio-eastwestgateway"), "istio-eastwestgateway");
    });

    it("makes the gateway chart a network gateway of its network, two pods and a disruption budget keeping one by default", () => {
        assert.deepEqual(networkGatewayValues("network2"), {
            name: "istio-eastwestgateway",
            networkGateway: "network2",
            replicaCount: 2,
            autoscaling: { minReplicas: 2, maxReplicas: 5 },
            podDisruptionBudget: { minAvailable: 1 },
        });
        // One replica: the chart renders no budget (it would block every drain), and neither do we.
        assert.equal(networkGatewayValues("network2", "", { replicas: 1 }).podDisruptionBudget, undefined);
        assert.deepEqual(networkGatewayValues("network2", "", { replicas: 8 }).autoscaling, { minReplicas: 8, maxReplicas: 8 });
    });

    it("passes the cloud's load balancer settings and the pods' resources to the chart's keys", () => {
        const values = networkGatewayValues("network1", "", {
            resources: { requests: { cpu: "250m", memory: "256Mi" } },
            service: {
                annotations: { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing" },
                loadBalancerIP: "203.0.113.7",
                loadBalancerClass: "service.k8s.aws/nlb",
                externalTrafficPolicy: "Local",
                loadBalancerSourceRanges: ["198.51.100.0/24"],
            },
        });
        assert.deepEqual(values.service, {
            annotations: { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing" },
            loadBalancerIP: "203.0.113.7",
            loadBalancerClass: "service.k8s.aws/nlb",
            externalTrafficPolicy: "Local",
            loadBalancerSourceRanges: ["198.51.100.0/24"],
        });
        assert.deepEqual(values.resources, { requests: { cpu: "250m", memory: "256Mi" } });
        assert.deepEqual(unknownChartKeys("gateway", values), []);
    });

    it("sizes istiod only when asked, through the chart's autoscaler minimum (a budget comes with more than one)", () => {
        assert.deepEqual(istiodSizingValues(undefined), {});
        assert.deepEqual(istiodSizingValues({ replicas: 2, resources: { requests: { cpu: "1", memory: "4Gi" } } }), {
            replicaCount: 2,
            autoscaleMin: 2,
            autoscaleMax: 5,
            resources: { requests: { cpu: "1", memory: "4Gi" } },
        });
        assert.deepEqual(unknownChartKeys("istiod", istiodSizingValues({ replicas: 3, resources: { limits: { cpu: "2", memory: "4Gi" } } })), []);
    });

    it("merges user chart values last, map by map, without merging into lists", () => {
        assert.deepEqual(mergeValues({ a: { b: 1, c: [1] }, d: 1 }, { a: { c: [2], e: 3 } }), { a: { b: 1, c: [2], e: 3 }, d: 1 });
        assert.deepEqual(mergeValues({ a: 1 }, undefined), { a: 1 });
    });

    describe("mesh networks", () => {
        it("maps each network to its cluster's registry and gateway on 15443", () => {
            assert.deepEqual(
                meshNetworks([
                    { clusterName: "cluster1", network: "network1", address: "203.0.113.10" },
                    { clusterName: "cluster2", network: "network2", address: "a1.elb.amazonaws.com" },
                ]),
                {
                    networks: {
                        network1: { endpoints: [{ fromRegistry: "cluster1" }], gateways: [{ address: "203.0.113.10", port: 15443 }] },
                        network2: { endpoints: [{ fromRegistry: "cluster2" }], gateways: [{ address: "a1.elb.amazonaws.com", port: 15443 }] },
                    },
                },
            );
        });

        it("groups clusters that share a network", () => {
            const { networks } = meshNetworks([
                { clusterName: "cluster2", network: "west", address: "203.0.113.11" },
                { clusterName: "cluster3", network: "west", address: "203.0.113.12" },
            ]);
            assert.deepEqual(Object.keys(networks), ["west"]);
            assert.deepEqual(networks.west.endpoints, [{ fromRegistry: "cluster2" }, { fromRegistry: "cluster3" }]);
            assert.equal(networks.west.gateways.length, 2);
        });

        it("renders the ConfigMap value so that a YAML 1.1 parser (istiod's) reads names such as no and on as names", () => {
            // "no", "on", "y" are legal cluster and network names, and booleans in YAML 1.1.
            const gateways = [
                { clusterName: "no", network: "on", address: "203.0.113.10" },
                { clusterName: "y", network: "off", address: "203.0.113.11" },
            ];
            const text = meshNetworksConfigMapValue(gateways);
            assert.deepEqual(YAML.parse(text, { version: "1.1" }), meshNetworks(gateways));
            assert.deepEqual(YAML.parse(text), meshNetworks(gateways));
        });
    });

    describe("the remote secret's kubeconfig", () => {
        const text = remoteSecretKubeconfig({
            clusterName: "cluster2",
            server: "https://172.18.0.3:6443",
            caData: Buffer.from("ca-pem").toString("base64"),
            token: "reader-token",
        });
        const kc = new KubeConfig();
        kc.loadFromString(text);

        it("keeps a cluster named like a YAML 1.1 boolean a name (client-go reads kubeconfigs as YAML 1.1)", () => {
            const named = remoteSecretKubeconfig({ clusterName: "no", server: "https://198.51.100.1:6443", caData: "Q0E=", token: "t" });
            const parsed = YAML.parse(named, { version: "1.1" }) as { "current-context": unknown; clusters: { name: unknown }[] };
            assert.equal(parsed["current-context"], "no");
            assert.equal(parsed.clusters[0].name, "no");
        });

        it("names cluster, user and context after the Istio cluster, as istioctl does", () => {
            assert.equal(kc.getCurrentContext(), "cluster2");
            const context = kc.getContextObject("cluster2");
            assert.deepEqual([context?.cluster, context?.user], ["cluster2", "cluster2"]);
        });

        it("reaches the given API server with its CA and the reader token", () => {
            assert.equal(kc.getCluster("cluster2")?.server, "https://172.18.0.3:6443");
            assert.equal(kc.getCluster("cluster2")?.caData, Buffer.from("ca-pem").toString("base64"));
            assert.equal(kc.getUser("cluster2")?.token, "reader-token");
            assert.equal(kc.getCluster("cluster2")?.skipTLSVerify, false);
        });
    });

    it("takes a load balancer's IP, else its hostname, else nothing", () => {
        assert.equal(loadBalancerAddress({ ingress: [{ ip: "203.0.113.7" }] }), "203.0.113.7");
        assert.equal(loadBalancerAddress({ ingress: [{ hostname: "a1.elb.amazonaws.com" }] }), "a1.elb.amazonaws.com");
        assert.equal(loadBalancerAddress({ ingress: [] }), undefined);
        assert.equal(loadBalancerAddress(undefined), undefined);
    });

    it("tells IP literals from DNS names", () => {
        assert.ok(isIpAddress("203.0.113.7"));
        assert.ok(isIpAddress("2001:db8::1"));
        assert.ok(!isIpAddress("a1.elb.amazonaws.com"));
    });
});
