/**
 * The command line of every npm script of ours: Node's own `parseArgs` (strict), plus `--help`/`-h`.
 * `--help` prints the usage on stdout and exits 0; an unknown option or a missing value prints what
 * was wrong and the usage on stderr and exits 2 (the usual code of a usage error).
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What {@link parseCommandLine} does instead of returning, so tests can see it. */
export interface Exit {
    (code: number): never;
}

export interface CommandLine<O extends Options> {
    /** The usage text: first line `usage: …`, then one line per option. */
    readonly usage: string;
    readonly options: O;
    readonly allowPositionals?: boolean;
    /** @default process.argv.slice(2) */
    readonly args?: string[];
}

const HELP = { help: { type: "boolean", short: "h" } } as const;

/** What parseArgs returns for these options (and `--help`), positionals allowed. */
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: true }>>;

export function parseCommandLine<const O extends Options>(
    cli: CommandLine<O>,
    io: { out?: (text: string) => void; err?: (text: string) => void; exit?: Exit } = {},
): Parsed<O> {
    const out = io.out ?? ((t: string) => process.stdout.write(t));
    const err = io.err ?? ((t: string) => process.stderr.write(t));
    const exit = io.exit ?? ((code: number) => process.exit(code));
    const usage = cli.usage.endsWith("\n") ? cli.usage : `${cli.usage}\n`;
    let parsed: Parsed<O>;
    try {
        parsed = parseArgs({
            args: cli.args,
            strict: true,
            allowPositionals: cli.allowPositionals ?? false,
            options: { ...cli.options, ...HELP },
        });
    } catch (e) {
        err(`${e instanceof Error ? e.message : String(e)}\n\n${usage}`);
        return exit(2);
    }
    if ((parsed.values as { help?: boolean }).help === true) {
        out(usage);
        return exit(0);
    }
    return parsed;
}
