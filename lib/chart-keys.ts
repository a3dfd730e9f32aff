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
        "istiodRemote.injectionPath": "values.yaml istiodRemote.injectionPath",
        "meshConfig.accessLogFile": "values.yaml meshConfig, merged into the mesh config (istio.mesh.v1alpha1.MeshConfig accessLogFile)",
    },
    gateway: {
        name: "values.yaml name",
        networkGateway: "values.yaml networkGateway",
        revision: "values.yaml revision (templates/_helpers.tpl: pod label istio.io/rev)",
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

/** The values a chart would silently ignore (or, for `gateway`, reject): not in {@link CHART_KEYS}. */
export function unknownChartKeys(chart: IstioChart, values: Record<string, unknown>): string[] {
    return leafPaths(values).filter((path) => !(path in CHART_KEYS[chart]));
}
