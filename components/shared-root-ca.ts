import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { CaCerts } from "../lib/cacerts";

export interface SharedRootCAArgs {
    /** One intermediate CA is issued for each of these Istio cluster names. */
    readonly clusterNames: readonly string[];
    /**
     * Organization in the certificates' subjects.
     * @default "Istio" (as Istio's `tools/certs` writes it)
     */
    readonly organization?: string;
    /** @default 87600 (ten years, like `tools/certs`' root) */
    readonly rootValidityHours?: number;
    /** @default 17520 (two years, like `tools/certs`' intermediates) */
    readonly intermediateValidityHours?: number;
}

const CA_USES = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"];

/**
 * One root CA for the whole mesh and an intermediate CA per cluster, so workloads in every cluster
 * trust each other's certificates — the page's shared `samples/certs`, generated instead of copied.
 * https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/
 */
export class SharedRootCA extends pulumi.ComponentResource {
    /** The `cacerts` bundle of each cluster, by cluster name; every PEM is a Pulumi secret. */
    public readonly cacerts: Readonly<Record<string, CaCerts>>;
    /** The root certificate every cluster trusts. */
    public readonly rootCert: pulumi.Output<string>;

    constructor(name: string, args: SharedRootCAArgs, opts?: pulumi.ComponentResourceOptions) {
        super("istio-multicluster:index:SharedRootCA", name, {}, opts);
        const organization = args.organization ?? "Istio";

        const rootKey = new tls.PrivateKey(`${name}-root-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this });
        const root = new tls.SelfSignedCert(
            `${name}-root-cert`,
            {
                privateKeyPem: rootKey.privateKeyPem,
                subject: { commonName: "Root CA", organization },
                isCaCertificate: true,
                validityPeriodHours: args.rootValidityHours ?? 87600,
                allowedUses: CA_USES,
            },
            { parent: this },
        );
        this.rootCert = pulumi.secret(root.certPem);

        const cacerts: Record<string, CaCerts> = {};
        for (const cluster of args.clusterNames) {
            const key = new tls.PrivateKey(`${name}-${cluster}-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this });
            const request = new tls.CertRequest(
                `${name}-${cluster}-csr`,
                {
                    privateKeyPem: key.privateKeyPem,
                    subject: { commonName: "Intermediate CA", organization, locality: cluster },
                    dnsNames: ["istiod.istio-system.svc"],
                },
                { parent: this },
            );
            const cert = new tls.LocallySignedCert(
                `${name}-${cluster}-cert`,
                {
                    certRequestPem: request.certRequestPem,
                    caPrivateKeyPem: rootKey.privateKeyPem,
                    caCertPem: root.certPem,
                    isCaCertificate: true,
                    validityPeriodHours: args.intermediateValidityHours ?? 17520,
                    allowedUses: CA_USES,
                },
                { parent: this },
            );
            cacerts[cluster] = {
                caCert: pulumi.secret(cert.certPem),
                caKey: pulumi.secret(key.privateKeyPem),
                rootCert: this.rootCert,
                certChain: pulumi.secret(pulumi.concat(cert.certPem, root.certPem)),
            };
        }
        this.cacerts = cacerts;
        this.registerOutputs({ rootCert: this.rootCert });
    }
}
