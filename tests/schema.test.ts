import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as ts from "typescript";
import { type PlannedResource, planProgram } from "../scripts/lib/plan";
import { stackConfig, useFixtureKubeconfig } from "./support";

interface Validatable {
    validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** The published schemas (kubernetes-models) for every Kubernetes type the program declares, by Pulumi type. */
async function schemaModels(): Promise<Record<string, ModelClass>> {
    const core = await import("kubernetes-models/v1");
    const apps = await import("kubernetes-models/apps/v1");
    const networking = await import("@kubernetes-models/istio/networking.istio.io/v1");
    const security = await import("@kubernetes-models/istio/security.istio.io/v1");
    return {
        "kubernetes:core/v1:Namespace": core.Namespace,
        "kubernetes:core/v1:Secret": core.Secret,
        "kubernetes:core/v1:Service": core.Service,
        "kubernetes:core/v1:ServiceAccount": core.ServiceAccount,
        "kubernetes:apps/v1:Deployment": apps.Deployment,
        // A patch is a partial ConfigMap: whatever it sets must be valid in one.
        "kubernetes:core/v1:ConfigMapPatch": core.ConfigMap,
        "kubernetes:networking.istio.io/v1:Gateway": networking.Gateway,
        "kubernetes:networking.istio.io/v1:VirtualService": networking.VirtualService,
        "kubernetes:security.istio.io/v1:PeerAuthentication": security.PeerAuthentication,
    };
}

/** The Kubernetes objects a plan declares (Helm releases are checked by their values; reads declare nothing). */
const declaredObjects = (resources: readonly PlannedResource[]) =>
    resources.filter((r) => r.type.startsWith("kubernetes:") && !r.read && r.type !== "kubernetes:helm.sh/v3:Release");

/** The object as the API server receives it: the patch's kind is its target's. */
const asObject = (r: PlannedResource) => ({ ...r.inputs, kind: r.type === "kubernetes:core/v1:ConfigMapPatch" ? "ConfigMap" : r.inputs.kind });

describe("every declared Kubernetes object against the published Kubernetes and Istio schemas", () => {
    let models: Record<string, ModelClass>;
    before(async () => {
        useFixtureKubeconfig();
        models = await schemaModels();
    });

    for (const remotes of [1, 3]) {
        it(`is valid (${remotes} remote${remotes > 1 ? "s" : ""})`, async () => {
            const { resources } = await planProgram(stackConfig(remotes), { revealSecrets: true });
            const objects = declaredObjects(resources);
            // The primary: istio-system, cacerts, istiod exposed (2), PeerAuthentication, cross-network Gateway, mesh networks;
            // each remote: istio-system, reader token, and its remote secret on the primary (no cacerts: no istiod runs there).
            // The sample: namespace and Service everywhere, v1 and curl (account, Service, Deployment) on the primary, v2 on the first remote.
            assert.equal(objects.length, 7 + 3 * remotes + (2 * (remotes + 1) + 4 + 1));
            for (const r of objects) {
                const Model = models[r.type];
                assert.ok(Model, `no schema for ${r.type}`);
                assert.doesNotThrow(() => new Model(asObject(r) as never).validate(), `${r.name} (${r.type})`);
            }
        });
    }

    it("rejects a wrong type or value (the check can fail)", () => {
        const Gateway = models["kubernetes:networking.istio.io/v1:Gateway"];
        const bad = { metadata: { name: "g" }, spec: { servers: [{ port: { number: "15443", name: "tls", protocol: "TLS" }, tls: { mode: "AUTO" }, hosts: ["*.local"] }] } };
        assert.throws(() => new Gateway(bad as never).validate(), /port\/number must be integer.*tls\/mode must be equal to one of the allowed values/s);
        const Namespace = models["kubernetes:core/v1:Namespace"];
        assert.throws(() => new Namespace({ metadata: { name: 5 } } as never).validate(), /metadata\/name must be string/);
    });
});

describe("a misspelt field in an Istio object", () => {
    it("fails type-checking against the published schema types", () => {
        const file = path.join(__dirname, "misspelt-field.ts");
        const source = [
            'import type { IGateway } from "@kubernetes-models/istio/networking.istio.io/v1";',
            'import type { IstioObject } from "../lib/istio-config";',
            'export const g: IstioObject<IGateway> = {',
            '    apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "g", namespace: "istio-system" },',
            '    spec: { selectr: { istio: "eastwestgateway" } },',
            "};",
        ].join("\n");
        const options = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(__dirname, "..", "tsconfig.json"), (f) => ts.sys.readFile(f)).config, ts.sys, path.join(__dirname, "..")).options;
        const host = ts.createCompilerHost(options);
        const readFile = host.readFile.bind(host);
        host.readFile = (f) => (f === file ? source : readFile(f));
        const fileExists = host.fileExists.bind(host);
        host.fileExists = (f) => f === file || fileExists(f);
        const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram([file], { ...options, noEmit: true, noCheck: false }, host));
        const messages = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
        assert.ok(messages.some((m) => /'selectr' does not exist/.test(m)), messages.join("\n"));
    });
});
