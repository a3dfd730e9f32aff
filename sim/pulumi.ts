/**
 * Pulumi against the simulated environment: the CLI and Kubernetes provider built from their Go
 * modules, a local file backend, no download ever, and the program users run (index.ts, unchanged,
 * with the stack config `npm run sim -- up` wrote).
 *
 * The Node.js language host (`pulumi-language-nodejs`, Go module
 * github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served by the Go module
 * proxy at any version we tried, so the program runs through the Automation API's inline-program
 * host, which @pulumi/pulumi itself implements (the engine talks to it like to a language host).
 * The policy pack runs through @pulumi/pulumi's own policy-pack host, started as an executable
 * analyzer plugin ({@link policyPackLauncher}), since the CLI otherwise asks the language host to run it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { localBackendUrl } from "../scripts/lib/local-backend";
import { ROOT, type SimState } from "./state";
import { STACK } from "./topology";

export const POLICY_PACK = path.join(ROOT, "policy");

/** The program's own files, re-read on each run (the inline host runs them in this process). */
const isProgramFile = (file: string) =>
    file.startsWith(ROOT) && !file.includes(`${path.sep}node_modules${path.sep}`) && !file.startsWith(path.join(ROOT, "sim"));

/** Runs index.ts as the stack's program and returns its exports as the stack outputs. */
export function program(): Promise<Record<string, unknown>> {
    for (const key of Object.keys(require.cache)) if (isProgramFile(key)) delete require.cache[key];
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program is re-evaluated for each run
    return Promise.resolve(require(path.join(ROOT, "index")) as Record<string, unknown>);
}

/**
 * The policy pack as the CLI can start it without a Node.js language host: an executable analyzer
 * plugin (a policy-pack path that is a file is launched as one, with the engine's address), which
 * runs @pulumi/pulumi's own policy-pack host (`cmd/run-policy-pack`) on policy/. Returns its path,
 * to pass as the policy pack.
 */
export function policyPackLauncher(state: SimState): string {
    const dir = path.join(state.dir, "policy-pack");
    fs.mkdirSync(dir, { recursive: true });
    const launcher = path.join(dir, "istio-multicluster-policy");
    const host = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
    fs.writeFileSync(launcher, `#!/bin/sh\ncd ${JSON.stringify(POLICY_PACK)} && exec node ${JSON.stringify(host)} "$1" .\n`, { mode: 0o755 });
    return launcher;
}

/** The environment variables of every Pulumi run here: built binaries first on PATH, nothing downloaded. */
export function pulumiEnv(state: SimState): Record<string, string> {
    return {
        PATH: [state.binDir, path.join(ROOT, "node_modules", ".bin"), process.env.PATH ?? ""].join(":"),
        PULUMI_HOME: path.join(state.dir, "pulumi-home"),
        PULUMI_BACKEND_URL: localBackendUrl(path.join(state.dir, "pulumi-state")),
        PULUMI_CONFIG_PASSPHRASE: "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // ts-node for the policy pack, as the program itself: transpile only.
        TS_NODE_TRANSPILE_ONLY: "true",
    };
}

/** The `sim` stack of the project, selected or created, with the built CLI. */
export async function simStack(state: SimState): Promise<Stack> {
    const envVars = pulumiEnv(state);
    for (const [k, v] of Object.entries(envVars)) process.env[k] = v; // the inline program and the providers see the same
    const root = path.join(state.dir, "pulumi-root");
    fs.mkdirSync(path.join(root, "bin"), { recursive: true });
    const link = path.join(root, "bin", "pulumi");
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(state.binDir, "pulumi"), link);
    const pulumiCommand = await PulumiCommand.get({ root });
    return LocalWorkspace.createOrSelectStack(
        { stackName: STACK, projectName: "istio-multicluster", program },
        { workDir: ROOT, pulumiCommand, envVars },
    );
}
