// The command line: yargs parses flags and hands them to the composition root; usage errors go there too.
import yargs, { type Argv } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { CHECK_FLAGS } from './check/flags.js'
import { OPTION_NAMES, spec, type OptionName, type RawOptions } from './config/options.js'
import { fail, main, UsageError, type Command } from './main.js'
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

export async function runCommandLine (signals: SignalGate): Promise<void> {
  const run = (command: Command, argv: Record<string, unknown>): Promise<void> => main(command, flagsFrom(argv), argv, signals)
  await yargs(hideBin(process.argv))
    .scriptName('acme-responder')
    .parserConfiguration({ 'camel-case-expansion': false, 'parse-numbers': false, 'parse-positional-numbers': false, 'greedy-arrays': false })
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
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    // yargs prints usage on errors; operators and scripts want one line and exit status 2.
    .fail((msg, err) => fail(new UsageError(msg ?? err?.message ?? 'invalid arguments')))
    .parseAsync()
}
