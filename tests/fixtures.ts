/** Values components take, made under the mock runtime. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { CaCerts } from "../lib/cacerts";
import { ISTIO_DEFAULTS } from "../lib/config";

export const source = { version: ISTIO_DEFAULTS.version, chartRepository: ISTIO_DEFAULTS.chartRepository, hub: ISTIO_DEFAULTS.hub };

export function fakeCaCerts(cluster: string): CaCerts {
    return {
        caCert: pulumi.secret(`ca-cert-of-${cluster}`),
        caKey: pulumi.secret(`ca-key-of-${cluster}`),
        rootCert: pulumi.secret("shared-root"),
        certChain: pulumi.secret(`ca-cert-of-${cluster}\nshared-root`),
    };
}

export function provider(cluster: string): k8s.Provider {
    return new k8s.Provider(cluster, { kubeconfig: pulumi.secret(`kubeconfig-of-${cluster}`) });
}
