import { strict as assert } from "node:assert";
import { IstioPrimary } from "../components/istio-primary";
import * as pulumi from "@pulumi/pulumi";
import { hostnameDiscoveryWarning, networkGatewayValues, primaryIstiodValues } from "../lib/istio-values";
import { type Plan, UNKNOWN, runUnderMocks } from "../scripts/lib/plan";
import { fakeCaCerts, provider, source } from "./fixtures";
import { kubernetesObjects, named, ofType, outputOf } from "./support";

async function declarePrimary(options: { gatewayAddress?: string; hostname?: boolean; preview?: boolean } = {}) {
    let primary: IstioPrimary | undefined;
    const plan: Plan = await runUnderMocks(
        () => {
            primary = new IstioPrimary(
                "cluster1",
                { clusterName: "cluster1", network: "network1", meshId: "mesh1", source, caCerts: fakeCaCerts("cluster1"), gatewayAddress: options.gatewayAddress },
                { provider: provider("cluster1") },
            );
        },
        { preview: options.preview, loadBalancer: options.hostname ? () => ({ hostname: "a1b2.elb.us-east-1.amazonaws.com" }) : undefined },
    );
    return { plan, primary: primary as IstioPrimary };
}

describe("IstioPrimary", () => {
    it("puts every object on its cluster's provider, named after the component", async () => {
        const { plan } = await declarePrimary();
        const objects = kubernetesObjects(plan.resources);
        assert.ok(objects.length >= 9);
        for (const r of objects) {
            assert.equal(r.provider, "cluster1", `${r.name} is on ${String(r.provider)}`);
            assert.match(r.name, /^cluster1-/);
        }
    });

    it("labels istio-system with the network and plugs in cacerts as secrets", async () => {
        const { plan } = await declarePrimary();
        const ns = named(plan.resources, "cluster1-istio-system");
        assert.deepEqual(ns.inputs.metadata, { name: "istio-system", labels: { "topology.istio.io/network": "network1" } });
        const cacerts = named(plan.resources, "cluster1-cacerts");
        assert.equal((cacerts.inputs.metadata as { name: string }).name, "cacerts");
        assert.deepEqual(cacerts.secretInputs, ["stringData"]);
    });

    it("installs istiod as the mesh's control plane only after cacerts and base", async () => {
        const { plan } = await declarePrimary();
        const istiod = named(plan.resources, "cluster1-istiod");
        assert.equal(istiod.inputs.chart, "istiod");
        assert.equal(istiod.inputs.version, source.version);
        assert.deepEqual(istiod.inputs.repositoryOpts, { repo: source.chartRepository });
        assert.deepEqual(istiod.inputs.values, primaryIstiodValues({ clusterName: "cluster1", network: "network1", meshId: "mesh1" }, source.hub));
        for (const before of ["cluster1-cacerts", "cluster1-base"]) {
            assert.ok(istiod.dependencies.includes(named(plan.resources, before).urn), `istiod does not wait for ${before}`);
        }
    });

    it("installs the network gateway after istiod, which injects it", async () => {
        const { plan } = await declarePrimary();
        const gateway = named(plan.resources, "cluster1-network-gateway");
        assert.equal(gateway.inputs.chart, "gateway");
        assert.deepEqual(gateway.inputs.values, networkGatewayValues("network1"));
        assert.ok(gateway.dependencies.includes(named(plan.resources, "cluster1-istiod").urn));
    });

    it("exposes istiod on 15012/15017 by TLS passthrough and requires mTLS mesh-wide, once istiod validates them", async () => {
        const { plan } = await declarePrimary();
        const istiod = named(plan.resources, "cluster1-istiod").urn;
        const gateway = named(plan.resources, "cluster1-istiod-gateway");
        const servers = (gateway.inputs.spec as { servers: { port: { number: number }; tls: { mode: string } }[] }).servers;
        assert.deepEqual(servers.map((s) => [s.port.number, s.tls.mode]), [[15012, "PASSTHROUGH"], [15017, "PASSTHROUGH"]]);
        const vs = named(plan.resources, "cluster1-istiod-vs");
        assert.equal(vs.type, "kubernetes:networking.istio.io/v1:VirtualService");
        const pa = named(plan.resources, "cluster1-peer-authentication");
        assert.deepEqual(pa.inputs.spec, { mtls: { mode: "STRICT" } });
        assert.equal((pa.inputs.metadata as { namespace: string }).namespace, "istio-system");
        for (const r of [gateway, vs, pa]) assert.ok(r.dependencies.includes(istiod), `${r.name} does not wait for istiod`);
    });

    it("reads the gateway address from the load balancer once the gateway release is installed", async () => {
        const { plan, primary } = await declarePrimary();
        assert.equal(await outputOf(primary.gatewayAddress), "203.0.113.10");
        assert.equal(await outputOf(primary.discoveryAddress), "203.0.113.10");
        const read = ofType(plan.resources, "kubernetes:core/v1:Service").filter((r) => r.read);
        assert.equal(read.length, 1);
        assert.ok(read[0].dependencies.includes(named(plan.resources, "cluster1-network-gateway").urn));
    });

    it("keeps a hostname load balancer's address as a hostname, and warns that the remotes are pinned to what it resolves to", async () => {
        const warnings: string[] = [];
        const warn = pulumi.log.warn;
        (pulumi.log as { warn: (m: string) => Promise<void> }).warn = (m: string) => (warnings.push(m), Promise.resolve());
        try {
            const { primary } = await declarePrimary({ hostname: true });
            assert.equal(await outputOf(primary.gatewayAddress), "a1b2.elb.us-east-1.amazonaws.com");
            assert.deepEqual(warnings, [hostnameDiscoveryWarning("cluster1", "a1b2.elb.us-east-1.amazonaws.com")]);
            warnings.length = 0;
            await declarePrimary({ gatewayAddress: "gw.example.com" }); // a static name is the user's choice
            await declarePrimary(); // an IP
            assert.deepEqual(warnings, []);
        } finally {
            (pulumi.log as { warn: typeof warn }).warn = warn;
        }
    });

    it("reads the gateway's address from the Service the chart names after its name value", async () => {
        const { plan } = await declarePrimary();
        const release = named(plan.resources, "cluster1-network-gateway");
        const read = plan.resources.filter((r) => r.read);
        assert.deepEqual(read.map((r) => r.readId), [`istio-system/${String((release.inputs.values as { name: string }).name)}`]);
    });

    it("uses a fixed gatewayAddress instead of reading the load balancer", async () => {
        const { plan, primary } = await declarePrimary({ gatewayAddress: "198.51.100.7" });
        assert.equal(await outputOf(primary.gatewayAddress), "198.51.100.7");
        assert.equal(plan.resources.filter((r) => r.read).length, 0);
    });

    it("previews with every address unknown", async () => {
        const { plan } = await declarePrimary({ preview: true });
        // The read's id comes from the release's status, which a first preview does not know: the engine skips it.
        assert.deepEqual(plan.resources.filter((r) => r.read).map((r) => r.readId), [UNKNOWN]);
        assert.ok(named(plan.resources, "cluster1-network-gateway"));
    });
});
