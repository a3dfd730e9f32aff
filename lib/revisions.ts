/**
 * Istio control planes by revision (https://istio.io/latest/docs/setup/upgrade/canary/): each revision
 * is a control plane of its own, whose objects carry the revision as a suffix (`istiod-<rev>`,
 * ConfigMap `istio-<rev>`, …). The install without revisions is the same with an empty revision, so
 * one set of functions names both.
 */
import * as semver from "semver";

/** One control plane: its revision name and its Istio version. */
export interface Revision {
    /** The revision (`revision` of the istiod chart, label `istio.io/rev`); "" for the install without revisions. */
    readonly name: string;
    /** Istio release it runs (chart version and image tag). */
    readonly version: string;
}

/** The control planes of a cluster, and the one behind the `default` tag. */
export interface ControlPlanes {
    /** Every revision installed, in the user's order. */
    readonly revisions: readonly Revision[];
    /** The revision the `default` tag points at; "" without revisions (the control plane is the default). */
    readonly defaultRevision: string;
    /**
     * The version of the `base` chart (Istio's CRDs), chosen by the user (`istio.baseVersion`).
     * @default the newest revision's version
     */
    readonly baseVersion?: string;
}

/** The revision tag Istio gives the `istio-injection=enabled` label and the network gateways. */
export const DEFAULT_TAG = "default";

/** One control plane without revisions: the install as it is before any upgrade is planned. */
export function singleControlPlane(version: string): ControlPlanes {
    return { revisions: [{ name: "", version }], defaultRevision: "" };
}

/** True when the control planes are revisions (and the `default` tag is ours to declare). */
export function hasRevisions(planes: ControlPlanes): boolean {
    return planes.revisions.some((r) => r.name !== "");
}

/** The revision name a version gets when none is given: its dots as dashes ("1.30.3" is "1-30-3"). */
export function revisionNameOf(version: string): string {
    return version.replace(/\./g, "-");
}

/** A name of Istio's with the revision as its suffix, as the charts name objects (`istiod`, `istiod-canary`). */
export function revisioned(base: string, revision: string): string {
    return revision === "" ? base : `${base}-${revision}`;
}

/** The revision behind the `default` tag. */
export function defaultRevisionOf(planes: ControlPlanes): Revision {
    return planes.revisions.find((r) => r.name === planes.defaultRevision) ?? planes.revisions[0];
}

/**
 * True when the `default` tag is ours to declare: the default is a revision. While the control plane
 * without revision is the default (alone, or with a canary beside it), its own webhooks
 * (`istio-sidecar-injector`) inject `istio-injection=enabled` and `istio.io/rev=default`.
 */
export function defaultIsTagged(planes: ControlPlanes): boolean {
    return defaultRevisionOf(planes).name !== "";
}

/**
 * The newest version among the revisions: the `base` chart's (its CRDs serve every older control
 * plane, and Istio's upgrade guide upgrades `base` before installing the new revision).
 */
export function newestVersion(planes: ControlPlanes): string {
    return planes.revisions.map((r) => r.version).sort(semver.rcompare)[0];
}

/**
 * The version `base` runs at: the user's `baseVersion`, else the newest revision's. Never derived
 * downwards by itself: a stack with several revisions must name it (lib/config.ts), so removing the
 * newest revision (a rollback) leaves `base` where it is unless the user lowers it on purpose — an
 * older CRD can drop a stored version the API server still holds objects in, and is refused.
 */
export function baseVersionOf(planes: ControlPlanes): string {
    return planes.baseVersion ?? newestVersion(planes);
}

/** A namespace's injection labels: the `default` tag's `istio-injection=enabled`, or a revision's `istio.io/rev`. */
export function injectionLabels(revision: string | undefined): Record<string, string> {
    return revision === undefined ? { "istio-injection": "enabled" } : { "istio.io/rev": revision };
}

type Selector = { readonly key: string; readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; readonly values?: string[] };
const match = (key: string, operator: Selector["operator"], ...values: string[]): Selector => ({ key, operator, ...(values.length > 0 ? { values } : {}) });

/** The webhook names and selectors of a `default` tag, as Istio's istiod chart renders them (`revision-tags-mwc.yaml`). */
const DEFAULT_TAG_WEBHOOKS: readonly { readonly prefix: string; readonly namespace: Selector[]; readonly object: Selector[] }[] = [
    // Namespaces and pods labelled with the tag (istio.io/rev=default).
    {
        prefix: "rev.namespace.",
        namespace: [match("istio.io/rev", "In", DEFAULT_TAG), match("istio-injection", "DoesNotExist")],
        object: [match("sidecar.istio.io/inject", "NotIn", "false")],
    },
    {
        prefix: "rev.object.",
        namespace: [match("istio.io/rev", "DoesNotExist"), match("istio-injection", "DoesNotExist")],
        object: [match("sidecar.istio.io/inject", "NotIn", "false"), match("istio.io/rev", "In", DEFAULT_TAG)],
    },
    // What the default revision injects: istio-injection=enabled, and pods asking with sidecar.istio.io/inject=true.
    {
        prefix: "namespace.",
        namespace: [match("istio-injection", "In", "enabled")],
        object: [match("sidecar.istio.io/inject", "NotIn", "false")],
    },
    {
        prefix: "object.",
        namespace: [match("istio-injection", "DoesNotExist"), match("istio.io/rev", "DoesNotExist")],
        object: [match("sidecar.istio.io/inject", "In", "true"), match("istio.io/rev", "DoesNotExist")],
    },
];

/**
 * The `default` revision tag: the MutatingWebhookConfiguration `istio-revision-tag-default` that
 * Istio's Helm upgrade guide renders from the istiod chart (`-s templates/revision-tags-mwc.yaml
 * --set revisionTags={default}`) and applies. Declared as one object of ours, moving the tag to
 * another revision is an in-place update (no window without an injector, and no second Helm release
 * claiming the object). Its `istio.io/rev` label tells that revision's istiod to patch the CA bundle.
 * On a remote, the webhook calls the remote's `istiod-<rev>` Service with the cluster's injection path.
 */
export function defaultTagWebhook(revision: string, injectionPath = "/inject") {
    return {
        metadata: {
            name: `istio-revision-tag-${DEFAULT_TAG}`,
            labels: { "istio.io/tag": DEFAULT_TAG, "istio.io/rev": revision, app: "sidecar-injector", "app.kubernetes.io/name": "istiod" },
        },
        webhooks: DEFAULT_TAG_WEBHOOKS.map((w) => ({
            name: `${w.prefix}sidecar-injector.istio.io`,
            clientConfig: { service: { name: revisioned("istiod", revision), namespace: "istio-system", path: injectionPath, port: 443 } },
            sideEffects: "None",
            rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
            failurePolicy: "Fail",
            reinvocationPolicy: "Never",
            admissionReviewVersions: ["v1"],
            namespaceSelector: { matchExpressions: w.namespace },
            objectSelector: { matchExpressions: w.object },
        })),
    };
}
