/** Imported first by index.ts: stops an unsupported Node.js with a clear message (see node-version.ts). */
import { nodeVersionProblem } from "./node-version";

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
    process.stderr.write(`error: ${problem}\n`);
    process.exit(1);
}
