/**
 * A Pulumi file backend in a local directory, as the demo and the simulated environment use it.
 * The file backend does not create its directory (gocloud's fileblob: "dir must exist"), so this does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

/** Creates `dir` if needed and returns the `PULUMI_BACKEND_URL` for it. */
export function localBackendUrl(dir: string): string {
    const absolute = path.resolve(dir);
    fs.mkdirSync(absolute, { recursive: true });
    return pathToFileURL(absolute).href;
}
