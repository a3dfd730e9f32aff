/**
 * The `cacerts` bundle Istio's CA plugs in (https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/):
 * an intermediate CA per cluster, chaining to one root shared by every cluster.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** The four PEM documents of a `cacerts` Secret; all Pulumi secrets (the bundle holds a CA key). */
export interface CaCerts {
    /** The cluster's intermediate CA certificate (`ca-cert.pem`). */
    readonly caCert: pulumi.Output<string>;
    /** Its private key (`ca-key.pem`). */
    readonly caKey: pulumi.Output<string>;
    /** The shared root certificate (`root-cert.pem`). */
    readonly rootCert: pulumi.Output<string>;
    /** Intermediate then root (`cert-chain.pem`). */
    readonly certChain: pulumi.Output<string>;
}

/** The `stringData` of the `cacerts` Secret, keyed by the file names istiod reads. */
export function cacertsSecretData(ca: CaCerts): Record<string, pulumi.Output<string>> {
    return {
        "ca-cert.pem": ca.caCert,
        "ca-key.pem": ca.caKey,
        "root-cert.pem": ca.rootCert,
        "cert-chain.pem": ca.certChain,
    };
}

/**
 * Reads `<directory>/<cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem`, the layout Istio's
 * `tools/certs` Makefile writes. Contents become secrets the moment they are read.
 */
export function readCaCertsFiles(directory: string, clusterName: string): CaCerts {
    const read = (file: string) => pulumi.secret(fs.readFileSync(path.join(directory, clusterName, file), "utf8"));
    return {
        caCert: read("ca-cert.pem"),
        caKey: read("ca-key.pem"),
        rootCert: read("root-cert.pem"),
        certChain: read("cert-chain.pem"),
    };
}
