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
    /**
     * The clusters whose istiod watches this one, each getting the Secret `${name}-secret-<cluster>` in
     * its istiod's namespace: a remote's own primary, and with several primaries every other one. One
     * reader token serves them all, so a rotation reaches every watcher before the old token goes.
     */
    readonly watchers: readonly RemoteSecretWatcher[];
}

/** A cluster running istiod that watches the cluster of a {@link RemoteSecret}. */
export interface RemoteSecretWatcher {
    /** Its Istio cluster name. */
    readonly clusterName: string;
    /** Its cluster's provider. */
    readonly provider: pulumi.ProviderResource;
    /** Its istiod's namespace (`istio-system`), where the Secret is stored. */
    readonly namespace: pulumi.Input<string>;
    /** The remote's own primary, whose Secret was `${name}-secret` before there could be several (kept as an alias). */
    readonly own?: boolean;
}

/**
 * What `istioctl create-remote-secret` makes, as resources: a long-lived token for the watched
 * cluster's `istio-reader-service-account` (Pulumi waits up to 5 seconds for Kubernetes to fill it
 * in; see the README's "Rotate a remote secret's token"), turned into a kubeconfig and stored on each
 * watching primary as a Secret labelled `istio/multiCluster: "true"`, which its istiod watches to
 * discover the cluster's services and endpoints.
 */
export class RemoteSecret extends pulumi.ComponentResource {
    /** Name of the Secret on each watcher (the same on all: `istio-remote-secret-<cluster>`). */
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

        const secrets = args.watchers.map(
            (w) =>
                new k8s.core.v1.Secret(
                    `${name}-secret-${w.clusterName}`,
                    {
                        metadata: {
                            name: remoteSecretName(args.clusterName),
                            namespace: w.namespace,
                            labels: { "istio/multiCluster": "true" },
                            annotations: { "networking.istio.io/cluster": args.clusterName },
                        },
                        stringData: { [args.clusterName]: this.kubeconfig },
                    },
                    // Named by watcher, so a remote moved to another primary keeps both Secrets; the own
                    // primary's was `${name}-secret` before there could be several (an alias: moved, not replaced).
                    { parent: this, provider: w.provider, aliases: w.own ? [{ name: `${name}-secret` }] : [] },
                ),
        );
        this.secretName = secrets[0].metadata.name;

        this.registerOutputs({ secretName: this.secretName });
    }
}
