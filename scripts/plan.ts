/**
 * `npm run plan [-- --stack dev | --config-json config.json] [--json]`: what `pulumi up` would declare
 * for a stack, per cluster, and a Mermaid diagram of the mesh — evaluated under Pulumi's mock runtime,
 * touching no cluster. Contexts are validated as in `pulumi up` where a kubeconfig exists; without one
 * (a fresh clone), the plan is shown all the same and says what it could not check.
 */
import { parseCommandLine } from "./lib/cli";
import { planProgram } from "./lib/plan";
import { clusterTables, meshDiagram } from "./lib/plan-view";
import { readStackConfig } from "./lib/stack-file";
import { withoutAbsentKubeconfigs } from "./lib/unchecked-kubeconfigs";

async function main(): Promise<number> {
    const { values } = parseCommandLine({
        usage: [
            "usage: npm run plan [-- --stack NAME | --config-json FILE] [--json]",
            "  What `pulumi up` would declare for a stack, per cluster, and a diagram of the mesh, under Pulumi's",
            "  mock runtime: no cluster is contacted, and no kubeconfig is needed (without one, contexts go unchecked).",
            "  --stack NAME         the stack whose Pulumi.<stack>.yaml to read (default: $PULUMI_STACK or dev)",
            "  --config-json FILE   `pulumi config --show-secrets --json` output instead (- for standard input)",
            "  --json               the plan's resources as JSON",
            "  -h, --help           this text",
        ].join("\n"),
        options: { stack: { type: "string", default: process.env.PULUMI_STACK ?? "dev" }, "config-json": { type: "string" }, json: { type: "boolean" } },
    });
    const { config, unchecked } = withoutAbsentKubeconfigs(readStackConfig({ stack: values.stack, configJson: values["config-json"] }));
    const plan = await planProgram(config, { preview: true });
    if (values.json) {
        console.log(JSON.stringify(plan.resources, null, 2));
    } else {
        const notChecked =
            unchecked.length > 0 ? `Not checked (\`pulumi up\` checks these before anything is created):\n${unchecked.map((u) => `  - ${u}`).join("\n")}\n\n` : "";
        console.log(`# Plan (a first preview: addresses, tokens and certificates unknown)\n\n${notChecked}${clusterTables(plan)}\n\n# Mesh\n\n\`\`\`mermaid\n${meshDiagram(plan)}\n\`\`\``);
        if (unchecked.length > 0) process.stderr.write(`plan: ${unchecked.length} cluster(s) without a kubeconfig: their contexts were not checked (see the top)\n`);
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
