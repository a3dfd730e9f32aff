import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { remoteSecretKubeconfig } from "../lib/istio-values";

/** The service account the `base` chart creates for istiod to read a cluster's API (istioctl's default). */
export const READER_SERVICE_ACCOUNT = "istio-reader-service-account";

/** Annotation of the reader token Secret carrying the user's `tokenRotation`; a change replaces the token. */
export const TOKEN_ROTATION_ANNOTATION = "istio-multicluster/token-rotation";

/**
 * The CA and token of a filled service-account-token Secret. Pulumi's wait for the token controller
 * is 5 seconds: when it missed, the data is empty and `pulumi up --refresh` reads it.
 */
export function readerTokenData(data: Record<string, string> | undefined, clusterName: string): { caData: string; token: string } {
    if (!data?.["token"] || !data["ca.crt"]) {
        throw new Error(
            `the reader token of ${clusterName} has no token yet (Kubernetes' token controller had not filled it when ` +
                "Pulumi stopped waiting); run `pulumi up --refresh`",
        );
    }
    return { caData: data["ca.crt"], token: Buffer.from(data["token"], "base64").toString("utf8") };
}

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
    /**
     * What gives the remote's reader its account and permissions: the `base` release creates the
     * service account, the remote `istiod` release its ClusterRole/Binding (token reviews, webhook
     * patching). The token waits for both, as istio.io installs the remote before its remote secret:
     * without them the primary's istiod gets 403s from the remote and backs off.
     */
    readonly readerReady: readonly pulumi.Resource[];
    /**
     * Changing it rotates the reader token: a new token Secret is created and written into the remote
     * secret before the old token is deleted, so istiod never holds a dead token.
     */
    readonly tokenRotation?: string;
    /** Namespace of istiod on the primary, where the Secret is stored. */
    readonly namespace: pulumi.Input<string>;
}

/**
 * What `istioctl create-remote-secret` makes, as resources: a long-lived token for the remote's
 * `istio-reader-service-account` (Pulumi waits up to 5 seconds for Kubernetes to fill it in; see
 * the README's "Rotate a remote secret's token"), turned into a kubeconfig
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

        // Auto-named (no metadata.name), so a replacement is created before the old token is deleted.
        const token = new k8s.core.v1.Secret(
            `${name}-reader-token`,
            {
                metadata: {
                    namespace: args.remoteNamespace,
                    annotations: {
                        "kubernetes.io/service-account.name": READER_SERVICE_ACCOUNT,
                        ...(args.tokenRotation !== undefined ? { [TOKEN_ROTATION_ANNOTATION]: args.tokenRotation } : {}),
                    },
                },
                type: "kubernetes.io/service-account-token",
            },
            {
                parent: this,
                provider: args.remoteProvider,
                dependsOn: [...args.readerReady],
                replaceOnChanges: [`metadata.annotations["${TOKEN_ROTATION_ANNOTATION}"]`],
            },
        );

        this.kubeconfig = pulumi.secret(
            pulumi.all([token.data, args.apiServer]).apply(([data, server]) =>
                remoteSecretKubeconfig({
                    clusterName: args.clusterName,
                    server,
                    ...readerTokenData(data, args.clusterName),
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
