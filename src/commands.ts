// The command line: yargs parses flags and hands them to the composition root; usage errors go there too.
import type { Argv } from 'yargs'
import parse from 'yargs-parser'
import { CHECK_FLAGS } from './check/flags.js'
import { OPTION_NAMES, spec, type OptionName, type RawOptions } from './config/options.js'
import { UsageError } from './config/error.js'
import { fail, main, type Command } from './main.js'
import type { SignalGate } from './serve/signals.js'
import { VERSION } from './version.js'

/** The table's options as flags; `check` gets only those it reads. */
function tableOptions (y: Argv, which: (name: OptionName) => boolean): Argv {
  for (const name of OPTION_NAMES.filter(which)) {
    const o = spec(name)
    y.option(name, {
      type: 'string',
      array: o.kind === 'list',
      describe: o.default === undefined ? o.describe : `${o.describe} [default: ${o.default}]`,
      group: o.limit === true ? 'Limits:' : 'Options:'
    })
  }
  return y
}

function flagsFrom (argv: Record<string, unknown>): RawOptions {
  const flags: RawOptions = {}
  for (const name of OPTION_NAMES) {
    const v = argv[name]
    if (v !== undefined) flags[name] = v as string | string[]
  }
  return flags
}

/** yargs' own parser settings, shared by the fast path and the full command line. */
const PARSER = { 'camel-case-expansion': false, 'parse-numbers': false, 'parse-positional-numbers': false, 'greedy-arrays': false } as const

/**
 * The daemon's start (serve, valid flags, no help) parsed by yargs-parser alone, the parser yargs itself
 * uses, with the same settings. Loading all of yargs (help layout, locales, commands) costs about 60 ms and
 * 14 MB that a service on a mail host pays for the whole of its life. Anything else (another command,
 * --help, --version, an unknown flag) returns undefined and goes to yargs, which also reports the errors.
 */
export function serveFlags (args: readonly string[]): RawOptions | undefined {
  const rest = args[0] === 'serve' ? args.slice(1) : args
  if (rest.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '--' || /^-[^-]/.test(a))) return undefined
  const parsed = parse([...rest], {
    string: OPTION_NAMES,
    array: OPTION_NAMES.filter((n) => spec(n).kind === 'list'),
    configuration: { ...PARSER, 'boolean-negation': false, 'dot-notation': false, 'duplicate-arguments-array': true }
  })
  if (parsed._.length > 0) return undefined
  if (Object.keys(parsed).some((k) => k !== '_' && !(OPTION_NAMES as string[]).includes(k))) return undefined
  // A string option given twice becomes an array in both parsers: the validator reports it.
  return flagsFrom(parsed)
}

export async function runCommandLine (signals: SignalGate): Promise<void> {
  const args = process.argv.slice(2)
  const fast = serveFlags(args)
  if (fast !== undefined) {
    await main('serve', fast, {}, signals)
    return
  }
  const { default: yargs } = await import('yargs')
  const run = (command: Command, argv: Record<string, unknown>): Promise<void> => main(command, flagsFrom(argv), argv, signals)
  await yargs(args)
    .scriptName('acme-responder')
    .parserConfiguration(PARSER)
    .command(['serve', '$0'], 'Answer ACME HTTP-01 challenges on port 80 (the default command)', (y) => tableOptions(y, () => true),
      (argv) => run('serve', argv))
    .command('check [names..]', 'Prove that the CA\'s validator would succeed for each name, before asking the CA',
      (y) => {
        tableOptions(y, (n) => spec(n).check === true).positional('names', { type: 'string', array: true, describe: 'Names to check' })
        for (const [name, o] of Object.entries(CHECK_FLAGS)) y.option(name, { ...o, group: 'Check:' })
        return y
      },
      (argv) => run('check', argv))
    .command('thumbprint', 'Print the RFC 7638 thumbprint of an ACME account key, for --account-thumbprint',
      (y) => y.option('account-key', { type: 'string', demandOption: true, describe: 'Account key file (PEM or JWK)' }),
      (argv) => run('thumbprint', argv))
    // yargs' own: the script calls back with --get-yargs-completions, which the fast path leaves to yargs,
    // so the daemon's start still never loads it. bash, or zsh when $SHELL is zsh.
    .completion('completion', 'Print a bash or zsh completion script (source it from the shell\'s rc file)')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    // yargs prints usage on errors; operators and scripts want one line and exit status 2.
    .fail((msg, err) => fail(new UsageError(msg ?? err?.message ?? 'invalid arguments')))
    .parseAsync()
}
