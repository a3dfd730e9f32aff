import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { SharedRootCA } from "../components/shared-root-ca";
import { cacertsSecretData } from "../lib/cacerts";
import { type Plan, runUnderMocks } from "../scripts/lib/plan";
import { named, ofType, outputOf } from "./support";

async function declareCa() {
    let ca: SharedRootCA | undefined;
    const plan: Plan = await runUnderMocks(() => {
        ca = new SharedRootCA("mesh-ca", { clusterNames: ["cluster1", "cluster2", "cluster3"] });
    });
    return { plan, ca: ca as SharedRootCA };
}

describe("SharedRootCA", () => {
    it("creates one root and one intermediate CA per cluster, each signed by the root", async () => {
        const { plan } = await declareCa();
        assert.equal(ofType(plan.resources, "tls:index/selfSignedCert:SelfSignedCert").length, 1);
        const intermediates = ofType(plan.resources, "tls:index/locallySignedCert:LocallySignedCert");
        assert.deepEqual(intermediates.map((c) => c.name), ["mesh-ca-cluster1-cert", "mesh-ca-cluster2-cert", "mesh-ca-cluster3-cert"]);
        const root = named(plan.resources, "mesh-ca-root-cert");
        assert.equal(root.inputs.isCaCertificate, true);
        for (const cert of intermediates) {
            assert.equal(cert.inputs.isCaCertificate, true);
            assert.ok(cert.dependencies.includes(root.urn));
            assert.ok(cert.dependencies.includes(named(plan.resources, "mesh-ca-root-key").urn));
            assert.deepEqual(cert.secretInputs, ["caPrivateKeyPem"]);
        }
    });

    it("gives every cluster the same root, its own intermediate, and a chain of both, all secret", async () => {
        const { ca } = await declareCa();
        const roots = await Promise.all(Object.values(ca.cacerts).map((c) => outputOf(c.rootCert)));
        assert.equal(new Set(roots).size, 1);
        const one = ca.cacerts.cluster2;
        assert.equal(await outputOf(one.certChain), (await outputOf(one.caCert)) + roots[0]);
        assert.notEqual(await outputOf(one.caCert), await outputOf(ca.cacerts.cluster1.caCert));
        for (const [file, value] of Object.entries(cacertsSecretData(one))) {
            assert.ok(await pulumi.isSecret(value), `${file} is not secret`);
        }
    });
});
