import { strict as assert } from "node:assert";
import * as k8s from "@pulumi/kubernetes";
import * as YAML from "yaml";
import { ClusterAwareGateway } from "../components/cluster-aware-gateway";
import type { MeshNetworks } from "../lib/istio-values";
import { type Plan, runUnderMocks } from "../scripts/lib/plan";
import { provider } from "./fixtures";
import { named, outputOf } from "./support";

async function declareRouting() {
    let routing: ClusterAwareGateway | undefined;
    const plan: Plan = await runUnderMocks(() => {
        const primary = provider("cluster1");
        const istiod = new k8s.helm.v3.Release("cluster1-istiod", { chart: "istiod", name: "istiod" }, { provider: primary });
        // A remote gateway address known only once its Service is read, as in the program.
        const remoteGateway = k8s.core.v1.Service.get("cluster2-gateway", "istio-system/istio-eastwestgateway", { provider: provider("cluster2") });
        routing = new ClusterAwareGateway(
            "cluster1-cluster-aware-routing",
            {
                namespace: "istio-system",
                istiod,
                networkGateways: [
                    { clusterName: "cluster1", network: "network1", address: "203.0.113.10" },
                    remoteGateway.status.apply((s) => ({ clusterName: "cluster2", network: "network2", address: s.loadBalancer.ingress[0].ip })),
                ],
            },
            { provider: primary },
        );
    });
    return { plan, routing: routing as ClusterAwareGateway };
}

describe("ClusterAwareGateway", () => {
    it("passes *.local mTLS through by SNI on 15443 of every network gateway", async () => {
        const { plan } = await declareRouting();
        const gateway = named(plan.resources, "cluster1-cluster-aware-routing-cross-network-gateway");
        assert.equal(gateway.provider, "cluster1");
        assert.equal(gateway.type, "kubernetes:networking.istio.io/v1:Gateway");
        assert.deepEqual(gateway.inputs.spec, {
            selector: { istio: "eastwestgateway" },
            servers: [{ port: { number: 15443, name: "tls", protocol: "TLS" }, tls: { mode: "AUTO_PASSTHROUGH" }, hosts: ["*.local"] }],
        });
        assert.ok(gateway.dependencies.includes(named(plan.resources, "cluster1-istiod").urn));
    });

    it("writes every network's registry and gateway address into the primary's mesh networks", async () => {
        const { plan, routing } = await declareRouting();
        const patch = named(plan.resources, "cluster1-cluster-aware-routing-mesh-networks");
        assert.equal(patch.type, "kubernetes:core/v1:ConfigMapPatch");
        assert.equal(patch.provider, "cluster1");
        const metadata = patch.inputs.metadata as { name: string; namespace: string; annotations: Record<string, string> };
        assert.equal(metadata.name, "istio");
        assert.equal(metadata.namespace, "istio-system");
        assert.equal(metadata.annotations["pulumi.com/patchForce"], "true");
        const networks = YAML.parse((patch.inputs.data as { meshNetworks: string }).meshNetworks) as MeshNetworks;
        assert.deepEqual(networks.networks.network2, {
            endpoints: [{ fromRegistry: "cluster2" }],
            gateways: [{ address: "203.0.113.11", port: 15443 }],
        });
        assert.equal(await outputOf(routing.meshNetworks), (patch.inputs.data as { meshNetworks: string }).meshNetworks);
    });

    it("patches only after istiod (which owns the ConfigMap) and the remote gateway's address", async () => {
        const { plan } = await declareRouting();
        const patch = named(plan.resources, "cluster1-cluster-aware-routing-mesh-networks");
        assert.ok(patch.dependencies.includes(named(plan.resources, "cluster1-istiod").urn));
        assert.ok(patch.dependencies.includes(named(plan.resources, "cluster2-gateway").urn));
        // Re-applied after each Helm revision of istiod, which rewrites the ConfigMap.
        assert.equal((patch.inputs.metadata as { annotations: Record<string, string> }).annotations["istio-multicluster/istiod-release-revision"], "1");
    });
});
