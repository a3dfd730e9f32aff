import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { remoteSecretKubeconfig } from "../lib/istio-values";

/** The service account the `base` chart creates for istiod to read a cluster's API (istioctl's default). */
export const READER_SERVICE_ACCOUNT = "istio-reader-service-account";

/** Name of the Secret istiod watches for a remote cluster: `istio-remote-secret-<cluster>`. */
export function remoteSecretName(clusterName: string): string {
    return `istio-remote-secret-${clusterName}`;
}

export interface RemoteSecretArgs {
    /** Istio cluster name of the remote: the Secret's data key and `networking.istio.io/cluster`. */
    readonly clusterName: string;
    /**
     * The https URL istiod uses to reach the remote's API server (istioctl's `--server`).
     * https://istio.io/latest/docs/reference/commands/istioctl/#istioctl-create-remote-secret
     */
    readonly apiServer: pulumi.Input<string>;
    /** Provider of the remote cluster, where the reader token is minted. */
    readonly remoteProvider: pulumi.ProviderResource;
    /** Namespace of the service account on the remote (its `istio-system`). */
    readonly remoteNamespace: pulumi.Input<string>;
    /** What creates the reader service account on the remote (its `base` release); the token waits for it. */
    readonly serviceAccountOwner: pulumi.Resource;
    /** Namespace of istiod on the primary, where the Secret is stored. */
    readonly namespace: pulumi.Input<string>;
}

/**
 * What `istioctl create-remote-secret` makes, as resources: a long-lived token for the remote's
 * `istio-reader-service-account` (Pulumi waits until Kubernetes fills it in), turned into a kubeconfig
 * and stored on the primary as a Secret labelled `istio/multiCluster: "true"`, which istiod watches to
 * discover the remote's services and endpoints. The Secret lands on `opts.provider` (the primary).
 */
export class RemoteSecret extends pulumi.ComponentResource {
    /** Name of the Secret on the primary. */
    public readonly secretName: pulumi.Output<string>;
    /** The kubeconfig stored in it (a Pulumi secret). */
    public readonly kubeconfig: pulumi.Output<string>;

    constructor(name: string, args: RemoteSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("istio-multicluster:index:RemoteSecret", name, {}, opts);

        const token = new k8s.core.v1.Secret(
            `${name}-reader-token`,
            {
                metadata: {
                    name: `${READER_SERVICE_ACCOUNT}-istio-remote-secret-token`,
                    namespace: args.remoteNamespace,
                    annotations: { "kubernetes.io/service-account.name": READER_SERVICE_ACCOUNT },
                },
                type: "kubernetes.io/service-account-token",
            },
            { parent: this, provider: args.remoteProvider, dependsOn: [args.serviceAccountOwner] },
        );

        this.kubeconfig = pulumi.secret(
            pulumi.all([token.data, args.apiServer]).apply(([data, server]) =>
                remoteSecretKubeconfig({
                    clusterName: args.clusterName,
                    server,
                    caData: data["ca.crt"],
                    token: Buffer.from(data["token"], "base64").toString("utf8"),
                }),
            ),
        );

        const secret = new k8s.core.v1.Secret(
            `${name}-secret`,
            {
                metadata: {
                    name: remoteSecretName(args.clusterName),
                    namespace: args.namespace,
                    labels: { "istio/multiCluster": "true" },
                    annotations: { "networking.istio.io/cluster": args.clusterName },
                },
                stringData: { [args.clusterName]: this.kubeconfig },
            },
            { parent: this },
        );
        this.secretName = secret.metadata.name;

        this.registerOutputs({ secretName: this.secretName });
    }
}
