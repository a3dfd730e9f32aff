/**
 * `npm run plan [-- --stack dev | --config-json config.json] [--json]`: what `pulumi up` would declare
 * for a stack, per cluster, and a Mermaid diagram of the mesh — evaluated under Pulumi's mock runtime,
 * touching no cluster. Contexts must exist in your kubeconfig (they are validated as in `pulumi up`).
 */
import { parseArgs } from "node:util";
import { planProgram } from "./lib/plan";
import { clusterTables, meshDiagram } from "./lib/plan-view";
import { readStackConfig } from "./lib/stack-file";

async function main(): Promise<number> {
    const { values } = parseArgs({
        options: { stack: { type: "string", default: process.env.PULUMI_STACK ?? "dev" }, "config-json": { type: "string" }, json: { type: "boolean" } },
    });
    const config = readStackConfig({ stack: values.stack, configJson: values["config-json"] });
    const plan = await planProgram(config, { preview: true });
    if (values.json) {
        console.log(JSON.stringify(plan.resources, null, 2));
    } else {
        console.log(`# Plan (a first preview: addresses, tokens and certificates unknown)\n\n${clusterTables(plan)}\n\n# Mesh\n\n\`\`\`mermaid\n${meshDiagram(plan)}\n\`\`\``);
    }
    return 0;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        // A config error lists every problem in its message; nothing else needs a stack trace here either.
        console.error(e instanceof Error ? e.message : String(e));
        process.exit(1);
    },
);
