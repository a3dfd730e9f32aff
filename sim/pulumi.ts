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
import * as ts from "typescript";
import { localBackendUrl } from "../scripts/lib/local-backend";
import { ROOT, type SimState } from "./state";
import { STACK } from "./topology";

export const POLICY_PACK = path.join(ROOT, "policy");

/** The program's own files, re-read on each run (the inline host runs them in this process). */
const isProgramFile = (file: string) =>
    file.startsWith(ROOT) && !file.includes(`${path.sep}node_modules${path.sep}`) && !file.startsWith(path.join(ROOT, "sim"));

/** ts-node's output for each program file, by the file's mtime: a run re-evaluates the program, it need not re-transpile it. */
const transpiled = new Map<string, { mtimeMs: number; code: string }>();

/** A module as Node's loaders see it: `_compile` runs a file's JavaScript in it. */
type Compilable = NodeJS.Module & { _compile: (code: string, file: string) => unknown };
type Loader = ((m: Compilable, file: string) => void) & { cachesProgram?: true };

/** Program files load through ts-node once per content, then from {@link transpiled} (ts-node keeps their source maps). */
function cacheTranspiledProgram(): void {
    const extensions = require.extensions as unknown as Record<string, Loader | undefined>;
    const tsNode = extensions[".ts"];
    if (tsNode === undefined || tsNode.cachesProgram) return;
    const load: Loader = (m, file) => {
        if (!isProgramFile(file)) return tsNode(m, file);
        const mtimeMs = fs.statSync(file).mtimeMs;
        const hit = transpiled.get(file);
        if (hit?.mtimeMs === mtimeMs) return void m._compile(hit.code, file);
        const compile = m._compile;
        // ts-node wraps _compile with its transpiler: what reaches this one is the JavaScript it made.
        m._compile = (code, name) => {
            transpiled.set(file, { mtimeMs, code });
            return compile.call(m, code, name);
        };
        tsNode(m, file);
    };
    extensions[".ts"] = Object.assign(load, { cachesProgram: true as const });
}

/** Runs index.ts as the stack's program and returns its exports as the stack outputs. */
export function program(): Promise<Record<string, unknown>> {
    cacheTranspiledProgram();
    for (const key of Object.keys(require.cache)) if (isProgramFile(key)) delete require.cache[key];
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program is re-evaluated for each run
    return Promise.resolve(require(path.join(ROOT, "index")) as Record<string, unknown>);
}

/**
 * The policy pack as the CLI can start it without a Node.js language host: an executable analyzer
 * plugin (a policy-pack path that is a file is launched as one, with the engine's address), which
 * runs @pulumi/pulumi's own policy-pack host (`cmd/run-policy-pack`) on policy/ as JavaScript
 * ({@link transpiledPolicyPack}). Returns its path, to pass as the policy pack.
 */
export function policyPackLauncher(state: SimState): string {
    const dir = path.join(state.dir, "policy-pack");
    const pack = transpiledPolicyPack(path.join(dir, "pack"));
    const launcher = path.join(dir, "istio-multicluster-policy");
    const host = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
    fs.writeFileSync(launcher, `#!/bin/sh\ncd ${JSON.stringify(pack)} && exec node ${JSON.stringify(host)} "$1" .\n`, { mode: 0o755 });
    return launcher;
}

/**
 * policy/ with each TypeScript file transpiled, as ts-node's transpile-only mode would (`npm test`
 * type-checks the pack), into `out`: the policy-pack host type-checks a TypeScript pack at every
 * start (about 2 s of CPU before the preview can begin, in every run with the pack), with no
 * setting to only transpile (`typeCheck: true` in `cmd/run-policy-pack`, Pulumi 3.270 to 3.276).
 */
export function transpiledPolicyPack(out: string): string {
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    for (const file of fs.readdirSync(POLICY_PACK)) {
        const from = path.join(POLICY_PACK, file);
        if (file.endsWith(".ts")) {
            const js = ts.transpileModule(fs.readFileSync(from, "utf8"), {
                fileName: from,
                compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
            });
            fs.writeFileSync(path.join(out, file.replace(/\.ts$/, ".js")), js.outputText);
        } else if (file === "package.json") {
            const manifest = JSON.parse(fs.readFileSync(from, "utf8")) as { main?: string };
            fs.writeFileSync(path.join(out, file), JSON.stringify({ ...manifest, main: manifest.main?.replace(/\.ts$/, ".js") }, null, 2));
        } else {
            fs.copyFileSync(from, path.join(out, file));
        }
    }
    return out;
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
