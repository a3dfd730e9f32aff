import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { HelloworldVersion } from "../lib/config";
import { injectionLabels } from "../lib/revisions";

/** Istio's sample images, pinned. `docker.io/istio` still serves the helloworld images; curl is curlimages'. */
export const SAMPLE_IMAGES = {
    helloworldTag: "1.0",
    curl: "docker.io/curlimages/curl:8.16.0",
} as const;

/** The port of the helloworld Service and containers. */
export const HELLOWORLD_PORT = 5000;

export interface HelloworldSampleArgs {
    /**
     * Namespace of the sample, labelled for sidecar injection.
     * https://istio.io/latest/docs/setup/install/multicluster/verify/
     */
    readonly namespace: string;
    /** The helloworld versions this cluster runs (`helloworld-v1`, `helloworld-v2`); none is fine. */
    readonly versions: readonly HelloworldVersion[];
    /** Whether this cluster runs the `curl` client (the page's `sleep`, replaced by `curl` in Istio's samples). */
    readonly client: boolean;
    /** Registry of Istio's sample images (`<hub>/examples-helloworld-<version>`). */
    readonly imageHub: string;
    /**
     * The revision the namespace is pinned to (label `istio.io/rev`).
     * @default the `default` tag (label `istio-injection=enabled`)
     */
    readonly revision?: string;
    /** What must be ready before pods here can get a sidecar: this cluster's injection path. */
    readonly injectionReady: readonly pulumi.Resource[];
}

/** `kubectl exec` of the page's proof: the client calls helloworld, answered by every version in the mesh. */
export function tryItCommand(context: string, namespace: string): string {
    return `kubectl --context=${context} -n ${namespace} exec deploy/curl -c curl -- curl -sS helloworld.${namespace}:${HELLOWORLD_PORT}/hello`;
}

/**
 * Istio's helloworld sample on one cluster, as the page deploys it: the namespace with injection on,
 * the `helloworld` Service (in every cluster, so the name resolves everywhere), the versions this
 * cluster runs, and the `curl` client. Deployments wait for this cluster's injection and are deleted
 * before it. The cluster arrives as `opts.provider`.
 */
export class HelloworldSample extends pulumi.ComponentResource {
    /** The sample namespace, known once it exists. */
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: HelloworldSampleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("istio-multicluster:index:HelloworldSample", name, {}, opts);

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: args.namespace, labels: injectionLabels(args.revision) } },
            { parent: this },
        );
        this.namespace = namespace.metadata.name;
        const inSample = (resourceName: string, labels: Record<string, string>) => ({ name: resourceName, namespace: this.namespace, labels });
        const afterInjection = { parent: this, dependsOn: [...args.injectionReady] };

        new k8s.core.v1.Service(
            `${name}-helloworld`,
            {
                metadata: inSample("helloworld", { app: "helloworld", service: "helloworld" }),
                spec: { selector: { app: "helloworld" }, ports: [{ name: "http", port: HELLOWORLD_PORT }] },
            },
            { parent: this },
        );

        // One replica of one pod, as Istio's sample manifests run each workload.
        const deployment = (role: string, labels: Record<string, string>, pod: k8s.types.input.core.v1.PodSpec) =>
            new k8s.apps.v1.Deployment(
                `${name}-${role}`,
                {
                    metadata: inSample(role, labels),
                    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: pod } },
                },
                afterInjection,
            );

        for (const version of args.versions) {
            deployment(`helloworld-${version}`, { app: "helloworld", version }, {
                containers: [
                    {
                        name: "helloworld",
                        image: `${args.imageHub}/examples-helloworld-${version}:${SAMPLE_IMAGES.helloworldTag}`,
                        imagePullPolicy: "IfNotPresent",
                        resources: { requests: { cpu: "100m" } },
                        ports: [{ containerPort: HELLOWORLD_PORT }],
                        readinessProbe: { httpGet: { path: "/hello", port: HELLOWORLD_PORT } },
                    },
                ],
            });
        }

        if (args.client) {
            const labels = { app: "curl" };
            const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-curl-service-account`, { metadata: inSample("curl", labels) }, { parent: this });
            new k8s.core.v1.Service(
                `${name}-curl-service`,
                { metadata: inSample("curl", { ...labels, service: "curl" }), spec: { selector: labels, ports: [{ name: "http", port: 80 }] } },
                { parent: this },
            );
            deployment("curl", labels, {
                terminationGracePeriodSeconds: 0,
                serviceAccountName: serviceAccount.metadata.name,
                containers: [
                    {
                        name: "curl",
                        image: SAMPLE_IMAGES.curl,
                        command: ["/bin/sleep", "infinity"],
                        imagePullPolicy: "IfNotPresent",
                        readinessProbe: { exec: { command: ["curl", "--version"] } },
                    },
                ],
            });
        }

        this.registerOutputs({ namespace: this.namespace });
    }
}
