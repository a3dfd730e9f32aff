import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./support";

const SCRIPT = path.join(__dirname, "..", "scripts", "dev-clusters.sh");

/** Runs the prerequisite check with only `tools` on PATH (fake ones: `docker info` exits with `dockerInfo`). */
function check(tools: string[], dockerInfo = 0, extra: string[] = []) {
    const bin = tempDir("prereq-");
    for (const tool of tools) {
        const body = tool === "docker" ? `#!/bin/sh\n[ "$1" = info ] && exit ${dockerInfo}\nexit 0\n` : "#!/bin/sh\nexit 0\n";
        fs.writeFileSync(path.join(bin, tool), body, { mode: 0o755 });
    }
    const run = spawnSync("/bin/bash", [SCRIPT, "--check", ...extra], { env: { PATH: bin }, encoding: "utf8" });
    return { status: run.status, out: run.stdout + run.stderr };
}

describe("npm run dev:clusters: prerequisites", () => {
    it("names every missing tool and where to get it, and stops", () => {
        const { status, out } = check(["kubectl"], 0, ["--require", "pulumi"]);
        assert.equal(status, 3);
        assert.equal(
            out,
            [
                "dev:clusters: missing prerequisites:",
                "  - docker (https://docs.docker.com/engine/install/)",
                "  - kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
                "  - pulumi (https://www.pulumi.com/docs/install/)",
                "",
            ].join("\n"),
        );
    });

    it("says when Docker is installed but its engine does not answer", () => {
        const { status, out } = check(["docker", "kind", "kubectl"], 1);
        assert.equal(status, 3);
        assert.match(out, /docker is installed but its engine does not answer/);
    });

    it("passes with every tool and a running engine", () => {
        const { status, out } = check(["docker", "kind", "kubectl", "pulumi"], 0, ["--require", "pulumi"]);
        assert.equal(status, 0, out);
        assert.equal(out, "dev:clusters: prerequisites present\n");
    });

    it("keeps to bash 3.2 (macOS): no associative arrays, no bare expansion of a possibly empty array", () => {
        const text = fs.readFileSync(SCRIPT, "utf8");
        assert.doesNotMatch(text, /declare -A|local -A|mapfile|readarray|\$\{\w+,,\}|\$\{\w+\^\^\}/);
        // Arrays the script fills from arguments may be empty: each expansion must be guarded.
        for (const m of text.matchAll(/"\$\{(\w+)\[@\]\}"/g)) {
            const guarded = text.includes(`\${${m[1]}[@]+"\${${m[1]}[@]}"}`);
            assert.ok(m[1] === "CLUSTERS" || guarded, `"\${${m[1]}[@]}" is unbound on bash 3.2 when empty`);
        }
    });

    it("pins a cloud-provider-kind image tag that exists", () => {
        // Tags of kubernetes-sigs/cloud-provider-kind: v0.11.1 is the newest; v0.12.0 was never tagged.
        assert.match(fs.readFileSync(SCRIPT, "utf8"), /cloud-controller-manager:v0\.11\.1"/);
    });

    it("refuses an unknown argument", () => {
        const run = spawnSync("/bin/bash", [SCRIPT, "--delet"], { encoding: "utf8" });
        assert.equal(run.status, 2);
        assert.match(run.stderr, /unknown argument --delet/);
    });
});

describe("scripts/ci-credentials.sh (the workflows' kubeconfig and CA from the GitHub environment's secrets)", () => {
    const CI_SCRIPT = path.join(__dirname, "..", "scripts", "ci-credentials.sh");
    const run = (env: Record<string, string>, cwd: string) =>
        spawnSync("/bin/bash", [CI_SCRIPT], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8" });

    it("names the missing secret and the GitHub environment it belongs in", () => {
        const dir = tempDir("ci-");
        const result = run({ STACK: "prod", ENVIRONMENT: "prod-preview", KUBECONFIG: path.join(dir, "kube", "config") }, dir);
        assert.equal(result.status, 1);
        assert.equal(
            result.stderr,
            'ci-credentials: secret KUBECONFIG_PROD is empty or missing in GitHub environment "prod-preview" (Settings → Environments → prod-preview → secrets)\n',
        );
    });

    it("refuses an EKS exec kubeconfig in a job without AWS credentials, and an exec command the runner lacks, naming the fix", () => {
        const dir = tempDir("ci-");
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "aws"), "#!/bin/sh\n", { mode: 0o755 });
        const eks = "users:\n- name: east\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token]\n";
        const base = { STACK: "prod", ENVIRONMENT: "prod", KUBECONFIG: path.join(dir, "kube", "config"), PATH: `${bin}:${process.env.PATH ?? ""}` };
        const noCredentials = run({ ...base, KUBECONFIG_CONTENT: eks }, dir);
        assert.equal(noCredentials.status, 1);
        assert.match(noCredentials.stderr, /no AWS credentials: set the secrets AWS_ROLE_ARN and AWS_REGION in GitHub environment "prod"/);
        assert.equal(run({ ...base, KUBECONFIG_CONTENT: eks, AWS_WEB_IDENTITY_TOKEN_FILE: "/tmp/token" }, dir).status, 0);
        const gke = run({ ...base, KUBECONFIG_CONTENT: eks.replace("command: aws", 'command: "kubelogin-not-installed-here"') }, dir);
        assert.equal(gke.status, 1);
        assert.match(gke.stderr, /runs "kubelogin-not-installed-here", which this runner does not have/);
    });

    it("writes the kubeconfig readable by its owner only and unpacks the CA where the stack expects it, printing neither", () => {
        const dir = tempDir("ci-");
        const src = path.join(dir, "src");
        fs.mkdirSync(path.join(src, "prod-east"), { recursive: true });
        fs.writeFileSync(path.join(src, "prod-east", "ca-key.pem"), "KEY-MATERIAL");
        const archive = spawnSync("tar", ["-cz", "-C", src, "."]).stdout.toString("base64");
        const kubeconfig = path.join(dir, "kube", "config");
        const result = run({ STACK: "prod", KUBECONFIG: kubeconfig, KUBECONFIG_CONTENT: "apiVersion: v1\nkind: Config\n# secret-ish", CA_ARCHIVE: archive }, dir);
        assert.equal(result.status, 0, result.stderr);
        assert.equal(fs.statSync(kubeconfig).mode & 0o777, 0o600);
        assert.equal(fs.readFileSync(path.join(dir, "certs", "prod", "prod-east", "ca-key.pem"), "utf8"), "KEY-MATERIAL");
        assert.doesNotMatch(result.stdout + result.stderr, /KEY-MATERIAL|secret-ish/);
    });
});
