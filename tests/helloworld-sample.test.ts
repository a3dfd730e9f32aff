import { strict as assert } from "node:assert";
import * as k8s from "@pulumi/kubernetes";
import { HelloworldSample, tryItCommand } from "../components/helloworld-sample";
import { type Plan, runUnderMocks } from "../scripts/lib/plan";
import { provider } from "./fixtures";
import { at, named, ofType } from "./support";

async function declareSample(versions: ("v1" | "v2")[], client: boolean): Promise<Plan> {
    return runUnderMocks(() => {
        const p = provider("cluster1");
        const istiod = new k8s.helm.v3.Release("cluster1-istiod", { chart: "istiod" }, { provider: p });
        new HelloworldSample("cluster1-sample", { namespace: "sample", versions, client, imageHub: "docker.io/istio", injectionReady: [istiod] }, { provider: p });
    });
}

describe("HelloworldSample", () => {
    it("labels its namespace for injection and serves helloworld on 5000", async () => {
        const plan = await declareSample(["v1"], false);
        assert.deepEqual(named(plan.resources, "cluster1-sample-namespace").inputs.metadata, { name: "sample", labels: { "istio-injection": "enabled" } });
        const service = named(plan.resources, "cluster1-sample-helloworld");
        assert.deepEqual(at(service.inputs, "spec.ports"), [{ name: "http", port: 5000 }]);
        assert.deepEqual(at(service.inputs, "spec.selector"), { app: "helloworld" });
        for (const r of plan.resources.filter((x) => x.type.startsWith("kubernetes:") && x.type !== "kubernetes:helm.sh/v3:Release")) assert.equal(r.provider, "cluster1");
    });

    it("runs each version from Istio's pinned image, with the sample's requests and a readiness probe, after injection is ready", async () => {
        const plan = await declareSample(["v1", "v2"], false);
        for (const version of ["v1", "v2"]) {
            const deployment = named(plan.resources, `cluster1-sample-helloworld-${version}`);
            const [container] = at(deployment.inputs, "spec.template.spec.containers") as Record<string, unknown>[];
            assert.equal(container.image, `docker.io/istio/examples-helloworld-${version}:1.0`);
            assert.deepEqual(container.resources, { requests: { cpu: "100m" } });
            assert.deepEqual(container.readinessProbe, { httpGet: { path: "/hello", port: 5000 } });
            assert.deepEqual(at(deployment.inputs, "spec.template.metadata.labels"), { app: "helloworld", version });
            assert.ok(deployment.dependencies.includes(named(plan.resources, "cluster1-istiod").urn));
        }
        assert.equal(ofType(plan.resources, "kubernetes:apps/v1:Deployment").length, 2);
    });

    it("runs the curl client only where asked, as Istio's curl sample does", async () => {
        assert.equal(ofType((await declareSample([], false)).resources, "kubernetes:apps/v1:Deployment").length, 0);
        const plan = await declareSample([], true);
        const curl = named(plan.resources, "cluster1-sample-curl");
        const [container] = at(curl.inputs, "spec.template.spec.containers") as Record<string, unknown>[];
        assert.equal(container.image, "docker.io/curlimages/curl:8.16.0");
        assert.deepEqual(container.command, ["/bin/sleep", "infinity"]);
        assert.equal(at(curl.inputs, "spec.template.spec.serviceAccountName"), "curl");
        assert.ok(curl.dependencies.includes(named(plan.resources, "cluster1-istiod").urn));
    });

    it("tells a person how to try it", () => {
        assert.equal(tryItCommand("kind-cluster1", "sample"), "kubectl --context=kind-cluster1 -n sample exec deploy/curl -c curl -- curl -sS helloworld.sample:5000/hello");
    });
});
