/**
 * The oldest Node.js the program runs on. @kubernetes/client-node 2.x brings undici 8, whose
 * `engines` say `node >=22.19.0`; on an older Node, loading it fails with a TypeError far from the
 * cause. Pulumi's language host runs the first `node` on PATH, so the check runs before anything else.
 */
import * as semver from "semver";

export const MINIMUM_NODE = "22.19.0";

/** Why this Node.js cannot run the program, or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined {
    if (semver.gte(version, MINIMUM_NODE)) return undefined;
    return (
        `this program needs Node.js ${MINIMUM_NODE} or later, and \`pulumi\` ran it with Node.js ${version} (the first \`node\` on PATH). ` +
        "Run it through npm, which puts the project's Node on PATH: `npm run preview`, `npm run up`, `npm run destroy` " +
        "(after `npm ci`), or install Node.js 22."
    );
}
