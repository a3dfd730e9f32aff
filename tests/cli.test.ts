import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { parseCommandLine } from "../scripts/lib/cli";
import { chooseDemoWay, type Machine } from "../scripts/lib/demo-way";
import { UNREAD_API_SERVER, withoutAbsentKubeconfigs } from "../scripts/lib/unchecked-kubeconfigs";
import { loadStackConfig } from "../lib/config";
import { planProgram } from "../scripts/lib/plan";
import { stackConfig } from "./support";

const ROOT = path.join(__dirname, "..");

/** Runs a command of ours as npm runs it, and what it printed. */
function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

/** Each npm script's command line, as package.json runs it. */
const SCRIPTS: [string, string, string[]][] = [
    ["verify", process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/verify.ts"]],
    ["plan", process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/plan.ts"]],
    ["bench", process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/bench.ts"]],
    ["demo", process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/demo.ts"]],
    ["sim", process.execPath, ["-r", "ts-node/register/transpile-only", "sim/cli.ts"]],
    ["e2e", process.execPath, ["-r", "ts-node/register/transpile-only", "sim/e2e.ts"]],
    ["bench:sim", process.execPath, ["-r", "ts-node/register/transpile-only", "sim/bench.ts"]],
    ["dev:clusters", "bash", ["scripts/dev-clusters.sh"]],
];

describe("the commands' command lines", () => {
    it("print their usage and exit 0 on --help, and the usage with exit 2 on an unknown option", () => {
        const exits: number[] = [];
        const printed: string[] = [];
        const io = { out: (t: string) => printed.push(`out:${t}`), err: (t: string) => printed.push(`err:${t}`), exit: ((c: number) => exits.push(c)) as never };
        parseCommandLine({ usage: "usage: npm run x", options: {}, args: ["--help"] }, io);
        parseCommandLine({ usage: "usage: npm run x", options: {}, args: ["--bogus"] }, io);
        assert.deepEqual(exits, [0, 2]);
        assert.equal(printed[0], "out:usage: npm run x\n");
        assert.match(printed[1], /^err:Unknown option '--bogus'.*\n\nusage: npm run x\n$/s);
    });

    for (const [name, command, args] of SCRIPTS) {
        it(`npm run ${name} -- --help prints its usage and exits 0; an unknown option exits 2 with it`, async function () {
            this.timeout(120_000);
            const [help, bad] = await Promise.all([run(command, [...args, "--help"]), run(command, [...args, "--no-such-option"])]);
            assert.equal(help.code, 0, help.stderr);
            assert.match(help.stdout, new RegExp(`^usage: npm run ${name}`));
            assert.equal(bad.code, 2, bad.stderr);
            assert.match(bad.stderr, /usage: npm run/);
        });
    }
});

describe("npm run demo's choice of a way", () => {
    const machine = (over: Partial<Machine> & { tools?: string[] } = {}): Machine => {
        const tools = over.tools ?? ["docker", "kind", "kubectl", "pulumi", "go", "ip", "openssl"];
        return { platform: "linux", isRoot: true, dockerEngine: true, has: (t) => tools.includes(t), ...over };
    };

    it("takes kind where Docker, kind, kubectl and pulumi are (pods and Envoy run there)", () => {
        assert.deepEqual(chooseDemoWay(machine()), { way: "kind" });
    });
    it("takes the simulated environment on a Linux machine without a Docker engine, as root with Go", () => {
        assert.deepEqual(chooseDemoWay(machine({ dockerEngine: false })), { way: "sim" });
        assert.deepEqual(chooseDemoWay(machine({ tools: ["docker", "kubectl", "go", "ip", "openssl"], dockerEngine: false })), { way: "sim" });
    });
    it("names exactly what each way lacks where neither can run", () => {
        assert.deepEqual(chooseDemoWay(machine({ platform: "darwin", isRoot: false, dockerEngine: false, tools: ["docker", "kubectl"] })), {
            way: undefined,
            missing: {
                kind: [
                    "kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
                    "pulumi (https://www.pulumi.com/docs/install/)",
                    "a running Docker engine (docker is installed but its engine does not answer)",
                ],
                sim: [
                    "Linux (this is darwin): network namespaces",
                    "root (it creates a network namespace: run it with sudo)",
                    "go (builds the toolchain from Go modules: https://go.dev/doc/install)",
                    "ip (iproute2)",
                    "openssl (makes the CA files)",
                ],
            },
        });
    });
    it("keeps to the way asked for", () => {
        assert.deepEqual(chooseDemoWay(machine(), "sim"), { way: "sim" });
        assert.equal(chooseDemoWay(machine({ dockerEngine: false }), "kind").way, undefined);
    });
});

describe("npm run plan without a kubeconfig", () => {
    let saved: { kubeconfig?: string; home?: string };
    before(() => {
        saved = { kubeconfig: process.env.KUBECONFIG, home: process.env.HOME };
        process.env.KUBECONFIG = "";
        process.env.HOME = "/nonexistent-home-for-the-plan-test";
    });
    after(() => {
        process.env.KUBECONFIG = saved.kubeconfig;
        process.env.HOME = saved.home;
    });

    it("shows the stack's plan and says which checks it could not make; pulumi up still refuses the config", async () => {
        const config = stackConfig(1, { remotes: [{ name: "cluster2", network: "network2" }] });
        assert.throws(() => loadStackConfig(config), /KUBECONFIG is unset and ~\/.kube\/config does not exist/);
        const { config: planned, unchecked } = withoutAbsentKubeconfigs(config);
        assert.deepEqual(unchecked, [
            'primary (cluster1): no kubeconfig (KUBECONFIG is unset and ~/.kube/config does not exist): that its context "kind-cluster1" exists',
            `remotes[0] (cluster2): no kubeconfig (KUBECONFIG is unset and ~/.kube/config does not exist): that its context "cluster2" exists, and its API server address (shown as ${UNREAD_API_SERVER}; set apiServer to see it)`,
        ]);
        const plan = await planProgram(planned, { preview: true });
        assert.ok(plan.resources.some((r) => r.name === "cluster2-istiod"));
        assert.deepEqual(withoutAbsentKubeconfigs(stackConfig(1, { primary: { name: "c1", network: "n1", kubeconfig: "apiVersion: v1\n" } })).unchecked.length, 1);
    });
});
