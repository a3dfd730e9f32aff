import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { MINIMUM_NODE, nodeVersionProblem } from "../lib/node-version";

describe("the Node.js version", () => {
    it("accepts the minimum and later, and the package declares the same minimum", () => {
        for (const v of ["22.19.0", "22.23.3", "24.1.0"]) assert.equal(nodeVersionProblem(v), undefined);
        const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as { engines: { node: string } };
        assert.equal(pkg.engines.node, `>=${MINIMUM_NODE}`);
    });

    it("turns Node 20 away with what to run instead", () => {
        assert.match(nodeVersionProblem("20.20.2") ?? "", /needs Node\.js 22\.19\.0 or later.*Node\.js 20\.20\.2.*npm run up/);
        assert.match(nodeVersionProblem("22.18.0") ?? "", /needs Node\.js 22\.19\.0/);
    });

    it("stops the program before it loads anything else", () => {
        // The guard as the program's first import, run by a Node that claims to be 20.
        const guard = path.join(__dirname, "..", "lib", "require-node.ts");
        let stderr = "";
        try {
            execFileSync(process.execPath, ["-e", `Object.defineProperty(process.versions, "node", { value: "20.20.2" }); require("ts-node/register/transpile-only"); require(${JSON.stringify(guard)});`], { stdio: "pipe" });
            assert.fail("the guard let Node 20 through");
        } catch (e) {
            stderr = String((e as { stderr?: Buffer }).stderr ?? "");
        }
        assert.match(stderr, /^error: this program needs Node\.js 22\.19\.0 or later/);
    });
});
