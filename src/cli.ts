#!/usr/bin/env node
// Command-line entry: yargs parses flags, then hands them to a command; maps failures to exit codes.
import yargs, { type Argv } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { main } from './main.js'
import { OPTION_NAMES, OPTIONS, type RawOptions } from './options.js'
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

await yargs(hideBin(process.argv))
  .scriptName('acme-responder')
  .parserConfiguration({ 'camel-case-expansion': false, 'parse-numbers': false, 'parse-positional-numbers': false })
  .command(['serve', '$0'], 'Answer ACME HTTP-01 challenges on port 80 (the default command)', serveOptions,
    (argv) => main('serve', flagsFrom(argv), []))
  .command('thumbprint', 'Print the RFC 7638 thumbprint of an ACME account key, for --account-thumbprint',
    (y) => y.option('account-key', { type: 'string', demandOption: true, describe: 'Account key file (PEM or JWK)' }),
    (argv) => main('thumbprint', flagsFrom(argv), []))
  .strict()
  .version(VERSION)
  .help()
  .alias('h', 'help')
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  // yargs prints usage on errors; operators and scripts want one line and exit status 2.
  .fail((msg, err) => fail(msg ?? err?.message ?? 'invalid arguments', 2))
  .parseAsync()
