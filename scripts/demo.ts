/**
 * `npm run demo [-- --destroy]`: from a fresh clone with Docker, kind, kubectl and the Pulumi CLI, the
 * whole mesh in one command: two kind clusters (npm run dev:clusters), a local state backend (no
 * account), `pulumi up` of the `dev` stack through the Automation API, then `npm run verify`'s proof.
 * `--destroy` takes it all down again.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { loadStackConfig } from "../lib/config";
import { localBackendUrl } from "./lib/local-backend";
import { formatReport } from "./lib/verify";
import { readStackConfig } from "./lib/stack-file";
import { verifyStack } from "./verify";

const ROOT = path.join(__dirname, "..");
const STACK = "dev";

function devClusters(...args: string[]): void {
    const run = spawnSync("bash", [path.join(ROOT, "scripts", "dev-clusters.sh"), ...args], { stdio: "inherit" });
    if (run.status !== 0) process.exit(run.status ?? 1);
}

async function main(): Promise<number> {
    const { values } = parseArgs({ options: { destroy: { type: "boolean" } } });
    devClusters("--check", "--require", "pulumi");
    if (!values.destroy) devClusters();

    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: STACK, workDir: ROOT },
        {
            envVars: {
                // State in the clone, secrets under an empty passphrase: a demo needs no account.
                PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? localBackendUrl(path.join(ROOT, ".pulumi-state")),
                PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
            },
        },
    );
    const onOutput = (out: string) => process.stdout.write(out);

    if (values.destroy) {
        // The clusters go even when the destroy fails: left behind, they would hold the mesh anyway.
        try {
            await stack.destroy({ onOutput });
        } finally {
            devClusters("--delete");
        }
        return 0;
    }
    const up = await stack.up({ onOutput });
    console.log(`\npulumi up: ${up.summary.result}; gateway addresses ${JSON.stringify(up.outputs.gatewayAddresses?.value)}\n`);
    const report = await verifyStack(loadStackConfig(readStackConfig({ stack: STACK })));
    console.log(formatReport(report));
    console.log(`\nTry it yourself: ${String(up.outputs.sampleCommand?.value)}\nTake it down: npm run demo -- --destroy`);
    return report.ok ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    },
);
