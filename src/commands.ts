// The command line: yargs parses flags, then hands them to a command; maps failures to exit codes.
import yargs, { type Argv } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { main } from './main.js'
import { OPTION_NAMES, OPTIONS, type RawOptions } from './options.js'
import type { SignalGate } from './signals.js'
import { VERSION } from './version.js'

function serveOptions (y: Argv): Argv {
  for (const name of OPTION_NAMES) {
    const o: typeof OPTIONS[keyof typeof OPTIONS] = OPTIONS[name]
    y.option(name, {
      type: 'string',
      array: o.kind === 'list',
      describe: 'defaultText' in o ? `${o.describe} [default: ${o.defaultText}]` : o.describe,
      group: name.startsWith('proxy-') || name.startsWith('max-') || name.endsWith('-timeout') ? 'Limits:' : 'Options:'
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

function fail (message: string, code: number): never {
  process.stderr.write(`acme-responder: ${message}\n`)
  process.exit(code)
}

export async function runCommandLine (signals: SignalGate): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName('acme-responder')
    .parserConfiguration({ 'camel-case-expansion': false, 'parse-numbers': false, 'parse-positional-numbers': false, 'greedy-arrays': false })
    .command(['serve', '$0'], 'Answer ACME HTTP-01 challenges on port 80 (the default command)', serveOptions,
      (argv) => main('serve', flagsFrom(argv), {}, signals))
    .command('check [names..]', 'Prove that the CA\'s validator would succeed for each name, before asking the CA',
      (y) => serveOptions(y)
        .positional('names', { type: 'string', array: true, describe: 'Names to check' })
        .option('domains-txt', { type: 'string', describe: 'Check every name of a dehydrated domains.txt', group: 'Check:' })
        .option('resolve', { type: 'string', array: true, describe: 'name:address to use instead of DNS (repeatable, like curl)', group: 'Check:' })
        .option('token', { type: 'string', describe: 'Probe this token (placed elsewhere, e.g. on the master)', group: 'Check:' })
        .option('expect', { type: 'string', describe: 'The key authorization --token must answer with', group: 'Check:' })
        .option('allow-private', { type: 'boolean', describe: 'Lab setups: accept redirect targets on private or loopback addresses (the CA refuses them)', group: 'Check:' })
        .option('json', { type: 'boolean', describe: 'Print one JSON document', group: 'Check:' })
        .option('port', { type: 'string', describe: 'HTTP port of the first request and of redirects [default: 80]', group: 'Check:' })
        .option('timeout', { type: 'string', describe: 'Milliseconds per hop [default: 10000]', group: 'Check:' }),
      (argv) => main('check', flagsFrom(argv), argv, signals))
    .command('thumbprint', 'Print the RFC 7638 thumbprint of an ACME account key, for --account-thumbprint',
      (y) => y.option('account-key', { type: 'string', demandOption: true, describe: 'Account key file (PEM or JWK)' }),
      (argv) => main('thumbprint', flagsFrom(argv), {}, signals))
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
  // yargs prints usage on errors; operators and scripts want one line and exit status 2.
    .fail((msg, err) => fail(msg ?? err?.message ?? 'invalid arguments', 2))
    .parseAsync()
}
