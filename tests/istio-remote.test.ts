import { strict as assert } from "node:assert";
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { IstioRemote } from "../components/istio-remote";
import { remotePilotAddress } from "../lib/resolve-address";
import { networkGatewayValues, remoteIstiodValues } from "../lib/istio-values";
import { type Plan, UNKNOWN, runUnderMocks } from "../scripts/lib/plan";
import { provider, source } from "./fixtures";
import { kubernetesObjects, named, ofType, waitsFor } from "./support";

async function declareRemote(options: { discoveryAddress?: string; preview?: boolean; resolved?: string[] } = {}) {
    // In a preview, the primary's gateway address is unknown, as a Service's status is before it exists.
    const unknownAddress = (p: pulumi.ProviderResource) =>
        new k8s.core.v1.Service("primary-gateway", {}, { provider: p }).status.apply((s) => s.loadBalancer.ingress[0].ip);
    let remote: IstioRemote | undefined;
    const plan: Plan = await runUnderMocks(
        () => {
            const primaryProvider = provider("cluster1");
            remote = new IstioRemote(
                "cluster2",
                {
                    clusterName: "cluster2",
                    network: "network2",
                    meshId: "mesh1",
                    source,
                    apiServer: "https://172.18.0.3:6443",
                    primary: {
                        clusterName: "cluster1",
                        provider: primaryProvider,
                        namespace: "istio-system",
                        discoveryAddresses: new Map([["", options.preview ? unknownAddress(primaryProvider) : (options.discoveryAddress ?? "203.0.113.10")]]),
                    },
                    resolveAddress: (host) => {
                        options.resolved?.push(host);
                        return Promise.resolve(["198.51.100.20"]);
                    },
                },
                { provider: provider("cluster2") },
            );
        },
        { preview: options.preview },
    );
    return { plan, remote: remote as IstioRemote };
}

describe("IstioRemote", () => {
    it("puts its objects on the remote, and only its remote secret on the primary", async () => {
        const { plan } = await declareRemote();
        const objects = kubernetesObjects(plan.resources);
        const onPrimary = objects.filter((r) => r.provider === "cluster1").map((r) => r.name);
        assert.deepEqual(onPrimary, ["cluster2-remote-secret-secret-cluster1"]);
        for (const r of objects.filter((o) => o.provider !== "cluster1")) {
            assert.equal(r.provider, "cluster2", `${r.name} is on ${String(r.provider)}`);
        }
    });

    it("hands istio-system to the primary's control plane, on its own network", async () => {
        const { plan } = await declareRemote();
        assert.deepEqual(named(plan.resources, "cluster2-istio-system").inputs.metadata, {
            name: "istio-system",
            labels: { "topology.istio.io/network": "network2" },
            annotations: { "topology.istio.io/controlPlaneClusters": "cluster1" },
        });
    });

    it("installs base and istiod in the remote profile, pointed at the primary's istiod", async () => {
        const { plan } = await declareRemote();
        assert.deepEqual(named(plan.resources, "cluster2-base").inputs.values, { profile: "remote" });
        const istiod = named(plan.resources, "cluster2-istiod");
        assert.deepEqual(istiod.inputs.values, remoteIstiodValues({ clusterName: "cluster2", network: "network2", meshId: "mesh1" }, source.hub, "203.0.113.10"));
        assert.ok(istiod.dependencies.includes(named(plan.resources, "cluster2-base").urn));
    });

    it("holds no CA key: no istiod runs there, the primary's signs its workloads", async () => {
        const { plan } = await declareRemote();
        const secrets = ofType(plan.resources, "kubernetes:core/v1:Secret").map((r) => r.name);
        assert.deepEqual(secrets, ["cluster2-remote-secret-reader-token", "cluster2-remote-secret-secret-cluster1"]);
        assert.ok(!JSON.stringify(plan.resources.map((r) => r.inputs)).includes("ca-key.pem"));
    });

    it("resolves a hostname primary gateway to an IP, so the chart renders no ExternalName Service", async () => {
        const resolved: string[] = [];
        const { plan } = await declareRemote({ discoveryAddress: "a1b2.elb.us-east-1.amazonaws.com", resolved });
        assert.deepEqual(resolved, ["a1b2.elb.us-east-1.amazonaws.com"]);
        const values = named(plan.resources, "cluster2-istiod").inputs.values as { global: { remotePilotAddress: string } };
        assert.equal(values.global.remotePilotAddress, "198.51.100.20");
    });

    describe("resolving the primary's gateway name for remotePilotAddress", () => {
        const waits: number[] = [];
        const retry = { timeoutMs: 60_000, firstDelayMs: 1_000, maxDelayMs: 8_000, sleep: (ms: number) => (waits.push(ms), Promise.resolve()) };
        beforeEach(() => (waits.length = 0));

        it("does not resolve an IP", async () => {
            let called = false;
            assert.equal(await remotePilotAddress("203.0.113.10", () => ((called = true), Promise.resolve([])), retry), "203.0.113.10");
            assert.equal(called, false);
        });

        it("waits with backoff for a new load balancer's name to resolve", async () => {
            let calls = 0;
            const resolve = () => (++calls < 4 ? Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" })) : Promise.resolve(["198.51.100.7"]));
            assert.equal(await remotePilotAddress("a1b2.elb.amazonaws.com", resolve, retry), "198.51.100.7");
            assert.deepEqual(waits, [1_000, 2_000, 4_000]);
        });

        it("gives the same address whatever order rotating DNS answers come in, and only IPv4", async () => {
            const answers = [["198.51.100.9", "2001:db8::1", "198.51.100.10"], ["198.51.100.10", "198.51.100.9"], ["2001:db8::1", "198.51.100.10", "198.51.100.9"]];
            for (const a of answers) assert.equal(await remotePilotAddress("gw.example.com", () => Promise.resolve(a), retry), "198.51.100.9");
        });

        it("gives up after the bounded time, saying why and what to do", async () => {
            await assert.rejects(
                remotePilotAddress("gw.example.com", () => Promise.resolve(["2001:db8::1"]), retry),
                /gw\.example\.com did not resolve to an IPv4 address within 60 s \(it resolved to 2001:db8::1, no IPv4 address\).*static gatewayAddress/,
            );
            assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000, 8_000, 8_000]); // 55 s waited; one more would pass 60
        });
    });

    it("installs its network gateway only once the primary has its remote secret", async () => {
        const { plan } = await declareRemote();
        const gateway = named(plan.resources, "cluster2-network-gateway");
        assert.deepEqual(gateway.inputs.values, networkGatewayValues("network2"));
        assert.ok(waitsFor(plan.resources, gateway, named(plan.resources, "cluster2-remote-secret-secret-cluster1")));
        assert.ok(waitsFor(plan.resources, gateway, named(plan.resources, "cluster2-istiod")));
    });

    it("previews while the primary's address is unknown", async () => {
        const { plan } = await declareRemote({ preview: true });
        const values = named(plan.resources, "cluster2-istiod").inputs.values as { global: { remotePilotAddress: string } };
        assert.equal(values.global.remotePilotAddress, UNKNOWN);
    });
});
