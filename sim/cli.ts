/**
 * `npm run sim -- up [--remotes N] | down | status`: the simulated multi-cluster environment (see
 * sim/environment.ts and the README's "Try it without Docker"). Needs root.
 */
import * as path from "node:path";
import { parseCommandLine } from "../scripts/lib/cli";
import { STACK_FILE, down, inNamespace, insideCommand, prepare, reexecInNamespace, startInside, status } from "./environment";
import { STACK } from "./topology";

const USAGE = [
    "usage: npm run sim -- up [--remotes N] | status | down",
    "  The simulated environment (Linux, root, Go): a primary and N remote Kubernetes control planes and a",
    "  real istiod in a network namespace of their own; the toolchain is built from Go modules on first use.",
    "  up            start it (--remotes N: how many remotes, default 1) and write Pulumi.sim.yaml",
    "  status        what runs",
    "  down          remove it all (logs stay in .sim/logs)",
    "  -h, --help    this text",
].join("\n");

async function main(): Promise<number> {
    const { positionals, values } = parseCommandLine({
        usage: USAGE,
        allowPositionals: true,
        options: { remotes: { type: "string", default: "1" }, "bin-dir": { type: "string" }, started: { type: "string" } },
    });
    const [command] = positionals;
    switch (command) {
        case "up": {
            if (!inNamespace()) {
                const binDir = await prepare();
                const started = String(Date.now());
                return reexecInNamespace(__filename, ["up", "--remotes", values.remotes, "--bin-dir", binDir, "--started", started]);
            }
            const state = await startInside(values["bin-dir"] as string, Number(values.remotes));
            const started = Number(values.started ?? Date.now());
            console.log(
                [
                    `simulated environment up: ${state.clusters.map((c) => `${c.name} (${c.role})`).join(", ")}`,
                    `  stack config: ${path.relative(process.cwd(), STACK_FILE)} (stack "${STACK}"), kubeconfig: ${state.kubeconfig}`,
                    `  everything runs in network namespace; run commands inside it, e.g.:`,
                    `    ${insideCommand(`${path.join(state.binDir, "kubectl")} --kubeconfig ${state.kubeconfig} --context kwok-cluster1 get pods -A`)}`,
                    `  the whole proof, on its own environment: npm run e2e`,
                    `  status: npm run sim -- status; remove: npm run sim -- down`,
                    `  (${Math.round((Date.now() - started) / 1000)} s, after the toolchain)`,
                ].join("\n"),
            );
            return 0;
        }
        case "down":
            down();
            return 0;
        case "status":
            console.log(status().join("\n"));
            return 0;
        default:
            console.error(`${command === undefined ? "no command" : `unknown command ${command}`}\n\n${USAGE}`);
            return 2;
    }
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(`sim: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    },
);
