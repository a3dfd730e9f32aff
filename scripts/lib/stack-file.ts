/**
 * Reads a stack's configuration without the Pulumi CLI, as the program receives it: objects and lists
 * as JSON text. Used by the plan command; secrets cannot be decrypted here, so a stack file holding
 * `secure:` values must come as `pulumi config --show-secrets --json` output instead.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";

const asConfigValue = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

function hasSecure(v: unknown): boolean {
    if (typeof v !== "object" || v === null) return false;
    return "secure" in v || Object.values(v).some(hasSecure);
}

/** `Pulumi.<stack>.yaml` → the config map. Throws, naming the keys, if a value is encrypted. */
export function readStackFile(file: string): Record<string, string> {
    const parsed = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const config = parsed.config ?? {};
    const encrypted = Object.keys(config).filter((k) => hasSecure(config[k]));
    if (encrypted.length > 0) {
        throw new Error(
            `${file} holds encrypted values (${encrypted.join(", ")}); run ` +
                "`pulumi config --show-secrets --json > config.json` and pass --config-json config.json",
        );
    }
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, asConfigValue(v)]));
}

/** `pulumi config --json` output → the config map. */
export function readConfigJson(text: string): Record<string, string> {
    const parsed = JSON.parse(text) as Record<string, { value?: unknown; objectValue?: unknown }>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, asConfigValue(v.objectValue ?? v.value)]));
}

/**
 * The config map the commands work on: `--config-json FILE` (`-` for standard input), else the
 * project's `Pulumi.<stack>.yaml`.
 */
export function readStackConfig(options: { readonly stack: string; readonly configJson?: string }): Record<string, string> {
    const { configJson } = options;
    return configJson !== undefined
        ? readConfigJson(fs.readFileSync(configJson === "-" ? 0 : configJson, "utf8"))
        : readStackFile(path.join(__dirname, "..", "..", `Pulumi.${options.stack}.yaml`));
}
