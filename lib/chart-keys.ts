/**
 * The Helm values this project sets, per chart, as checked against the charts of one Istio release
 * (istio/istio `manifests/charts/{base,istio-control/istio-discovery,gateway}` at that tag).
 *
 * Why a list: `base` and `istiod` have no values schema and silently ignore a key they do not know
 * (a misspelt `global.meshId` would just do nothing); `gateway`'s values.schema.json rejects unknown
 * top-level keys only. Tests assert every value the program passes is listed here. The revision keys
 * (istiod and gateway `revision`, base `defaultRevision`) and the revision-tag webhook template were
 * also checked at 1.26.0, the oldest version accepted, and the e2e checks every key in the charts it installs.
 */
export const CHART_KEYS_CHECKED_AGAINST = "1.30.3";

/**
 * The releases these keys hold for: the checked tag's patch line. Istio keeps chart values within a
 * patch line, and 1.30.4/1.30.5 (the default) have no tag in the istio/istio snapshot available here to
 * check them against, so the claim is the patch-line rule, not a check of those tags.
 */
export const CHART_KEYS_HOLD_FOR = "1.30.x";

export type IstioChart = "base" | "istiod" | "gateway";

/** Dotted paths of leaf values, with where each is defined in the chart. */
export const CHART_KEYS: Readonly<Record<IstioChart, Readonly<Record<string, string>>>> = {
    base: {
        profile: "templates/zzz_profile.yaml (files/profile-remote.yaml)",
        defaultRevision: "values.yaml defaultRevision (templates/defaultrevision-validatingwebhookconfiguration.yaml)",
    },
    istiod: {
        profile: "templates/zzz_profile.yaml (files/profile-remote.yaml)",
        revision: "values.yaml revision (suffixes every object: istiod-<rev>, istio-<rev>, istio-sidecar-injector-<rev>)",
        "global.hub": "values.yaml global.hub",
        "global.meshID": "values.yaml global.meshID",
        "global.multiCluster.clusterName": "values.yaml global.multiCluster.clusterName",
        "global.network": "values.yaml global.network",
        "global.externalIstiod": "values.yaml global.externalIstiod (renders env EXTERNAL_ISTIOD)",
        "global.configCluster": "values.yaml global.configCluster",
        "global.remotePilotAddress": "values.yaml global.remotePilotAddress",
        "global.operatorManageWebhooks": "values.yaml global.operatorManageWebhooks (templates/mutatingwebhook.yaml renders no istio-sidecar-injector when true)",
        "istiodRemote.injectionPath": "values.yaml istiodRemote.injectionPath",
        "meshConfig.accessLogFile": "values.yaml meshConfig, merged into the mesh config (istio.mesh.v1alpha1.MeshConfig accessLogFile)",
        replicaCount: "values.yaml replicaCount (templates/deployment.yaml, when autoscaleEnabled is false)",
        autoscaleMin: "values.yaml autoscaleMin (templates/autoscale.yaml; > 1 also renders templates/poddisruptionbudget.yaml)",
        autoscaleMax: "values.yaml autoscaleMax (templates/autoscale.yaml)",
        "resources.requests.cpu": "values.yaml resources.requests.cpu",
        "resources.requests.memory": "values.yaml resources.requests.memory",
        "resources.limits.cpu": "values.yaml resources (templates/deployment.yaml renders the whole map)",
        "resources.limits.memory": "values.yaml resources (templates/deployment.yaml renders the whole map)",
    },
    gateway: {
        name: "values.yaml name",
        networkGateway: "values.yaml networkGateway",
        revision: "values.yaml revision (templates/_helpers.tpl: pod label istio.io/rev)",
        replicaCount: "values.yaml replicaCount (templates/deployment.yaml, when autoscaling.enabled is false)",
        "autoscaling.minReplicas": "values.yaml autoscaling.minReplicas (templates/hpa.yaml)",
        "autoscaling.maxReplicas": "values.yaml autoscaling.maxReplicas (templates/hpa.yaml)",
        "podDisruptionBudget.minAvailable": "values.yaml podDisruptionBudget, a map rendered as the PDB's spec (templates/poddisruptionbudget.yaml)",
        "resources.requests.cpu": "values.yaml resources.requests.cpu",
        "resources.requests.memory": "values.yaml resources.requests.memory",
        "resources.limits.cpu": "values.yaml resources.limits.cpu",
        "resources.limits.memory": "values.yaml resources.limits.memory",
        "service.annotations": "values.yaml service.annotations, a map (templates/service.yaml)",
        "service.loadBalancerIP": "values.yaml service.loadBalancerIP (templates/service.yaml)",
        "service.loadBalancerClass": "templates/service.yaml (hasKey .Values.service \"loadBalancerClass\"; commented out in values.yaml)",
        "service.loadBalancerSourceRanges": "values.yaml service.loadBalancerSourceRanges (templates/service.yaml)",
        "service.externalTrafficPolicy": "values.yaml service.externalTrafficPolicy (templates/service.yaml)",
    },
};

/** Keys of {@link CHART_KEYS} that hold a map of the user's (annotations): what is under them is the user's, not the chart's. */
export const CHART_MAP_KEYS: Readonly<Record<IstioChart, readonly string[]>> = { base: [], istiod: [], gateway: ["service.annotations"] };

/**
 * Each chart's top-level values (and those under `global`) at {@link CHART_KEYS_CHECKED_AGAINST}
 * (`_internal_defaults_do_not_set` of its values.yaml, plus what its templates/zzz_profile.yaml reads):
 * what `istio.values` may set. Below them the chart's own maps take what they take.
 */
export const CHART_VALUE_KEYS: Readonly<Record<IstioChart, { readonly top: readonly string[]; readonly global: readonly string[] }>> = {
    base: {
        top: ["base", "defaultRevision", "experimental", "global", "profile", "compatibilityVersion", "platform"],
        global: ["enableReaderRBAC", "imagePullSecrets", "istioNamespace", "resourceScope", "platform", "profile"],
    },
    istiod: {
        top: [
            "affinity", "autoscaleBehavior", "autoscaleEnabled", "autoscaleMax", "autoscaleMin", "base", "cni", "configMap", "cpu",
            "deploymentAnnotations", "deploymentLabels", "env", "envVarFrom", "experimental", "extraContainerArgs", "gatewayClasses", "gateways",
            "global", "hub", "image", "initContainers", "ipFamilies", "ipFamilyPolicy", "istiodRemote", "jwksResolverExtraRootCA",
            "keepaliveMaxServerConnectionAge", "memory", "meshConfig", "nodeSelector", "ownerName", "pdb", "podAnnotations", "podLabels",
            "replicaCount", "resources", "revision", "revisionTags", "rollingMaxSurge", "rollingMaxUnavailable", "seccompProfile",
            "serviceAccountAnnotations", "serviceAnnotations", "sidecarInjectorWebhook", "sidecarInjectorWebhookAnnotations", "tag", "taint",
            "telemetry", "tolerations", "topologySpreadConstraints", "traceSampling", "trustedZtunnelName", "trustedZtunnelNamespace", "variant",
            "volumeMounts", "volumes", "profile", "compatibilityVersion", "platform",
        ],
        global: [
            "caAddress", "caName", "certSigners", "configCluster", "configValidation", "defaultPodDisruptionBudget", "defaultResources",
            "externalIstiod", "hub", "imagePullPolicy", "imagePullSecrets", "istioNamespace", "istiod", "logAsJson", "logging", "meshID",
            "meshNetworks", "mountMtlsCerts", "multiCluster", "nativeNftables", "network", "networkPolicy", "omitSidecarInjectorConfigMap",
            "operatorManageWebhooks", "pilotCertProvider", "priorityClassName", "proxy", "proxy_init", "remotePilotAddress", "resourceScope",
            "sds", "sts", "tag", "variant", "waypoint", "platform", "profile",
        ],
    },
    gateway: {
        top: [
            "additionalContainers", "affinity", "annotations", "autoscaling", "containerSecurityContext", "env", "envVarFrom", "global",
            "imagePullPolicy", "imagePullSecrets", "initContainers", "kind", "labels", "lifecycle", "minReadySeconds", "name", "networkGateway",
            "networkGatewayPorts", "nodeSelector", "podAnnotations", "podDisruptionBudget", "priorityClassName", "rbac", "readinessProbe",
            "replicaCount", "resources", "revision", "securityContext", "service", "serviceAccount", "strategy", "terminationGracePeriodSeconds",
            "tolerations", "topologySpreadConstraints", "volumeMounts", "volumes",
        ],
        global: ["networkPolicy"],
    },
};

/** Dotted paths of an object's leaves (arrays and scalars are leaves). */
export function leafPaths(values: Record<string, unknown>, prefix = ""): string[] {
    return Object.entries(values).flatMap(([key, value]) =>
        typeof value === "object" && value !== null && !Array.isArray(value)
            ? leafPaths(value as Record<string, unknown>, `${prefix}${key}.`)
            : [`${prefix}${key}`],
    );
}

/** The values a chart would silently ignore (or, for `gateway`, reject): not in {@link CHART_KEYS} (nor under one of its maps). */
export function unknownChartKeys(chart: IstioChart, values: Record<string, unknown>): string[] {
    const underMap = (path: string) => CHART_MAP_KEYS[chart].some((m) => path.startsWith(`${m}.`));
    return leafPaths(values).filter((path) => !(path in CHART_KEYS[chart]) && !underMap(path));
}
