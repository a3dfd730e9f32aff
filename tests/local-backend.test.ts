import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { localBackendUrl } from "../scripts/lib/local-backend";
import { tempDir } from "./support";

describe("the local state backend (npm run demo, npm run sim)", () => {
    it("creates its directory on a fresh clone, where nothing else does, and names it as a file URL", () => {
        const dir = path.join(tempDir("clone-"), ".pulumi-state");
        assert.equal(fs.existsSync(dir), false);
        const url = localBackendUrl(dir);
        assert.ok(fs.statSync(dir).isDirectory());
        assert.match(url, /^file:\/\//);
        assert.equal(fileURLToPath(url), dir);
        // A second run finds it and keeps it.
        assert.equal(localBackendUrl(dir), url);
    });
});
