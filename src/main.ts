// Composition root: wires the commands to the process (environment, platform, exit codes). Nothing else.
import type { CheckArgs } from './check-command.js'
import type { RawOptions } from './options.js'
import type { SignalGate } from './signals.js'

export type Command = 'serve' | 'check' | 'thumbprint'

/**
 * Each command's modules load only when it runs: the server's start does not pay for check's
 * resolver and rules, nor check for the server. Errors carry their exit status (2 for invalid
 * configuration, 1 for a listener or privilege failure); anything else is 1. Always one line.
 */
export async function main (command: Command, flags: RawOptions, args: CheckArgs, signals: SignalGate): Promise<void> {
  const src = { flags, env: process.env, platform: process.platform }
  try {
    switch (command) {
      case 'serve': {
        const { serve } = await import('./serve.js')
        await serve(src, signals, (code) => process.exit(code))
        break
      }
      case 'check': {
        const { check } = await import('./check-command.js')
        process.exitCode = await check(src, args, process.stdout)
        break
      }
      case 'thumbprint': {
        const { thumbprintFromKeyFile } = await import('./thumbprint.js')
        process.stdout.write(await thumbprintFromKeyFile(String(flags['account-key'])) + '\n')
        break
      }
    }
  } catch (err) {
    process.stderr.write(`acme-responder: ${err instanceof Error ? err.message : String(err)}\n`)
    const code = (err as { exitCode?: unknown }).exitCode
    process.exit(typeof code === 'number' ? code : 1)
  }
}
