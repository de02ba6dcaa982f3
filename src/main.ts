// Composition root: wires the commands to the process (environment, platform, exit codes). Nothing else.
import { CheckUsageError } from './check/check.js'
import { check, type CheckArgs } from './check-command.js'
import { ConfigError } from './config.js'
import type { RawOptions } from './options.js'
import { PrivilegeError } from './privileges.js'
import { PageError } from './runtime.js'
import { serve } from './serve.js'
import { ListenError } from './server.js'
import { thumbprintFromKeyFile } from './thumbprint.js'

export type Command = 'serve' | 'check' | 'thumbprint'

/** Invalid configuration exits 2; a listener or privilege failure exits 1; always one line. */
function exitCode (err: unknown): number {
  if (err instanceof ConfigError || err instanceof PageError || err instanceof CheckUsageError) return 2
  if (err instanceof ListenError || err instanceof PrivilegeError) return 1
  return 1
}

export async function main (command: Command, flags: RawOptions, args: CheckArgs): Promise<void> {
  const src = { flags, env: process.env, platform: process.platform }
  try {
    switch (command) {
      case 'serve':
        await serve(src, (code) => process.exit(code))
        break
      case 'check':
        process.exitCode = await check(src, args, process.stdout)
        break
      case 'thumbprint':
        process.stdout.write(await thumbprintFromKeyFile(String(flags['account-key'])) + '\n')
        break
    }
  } catch (err) {
    process.stderr.write(`acme-responder: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(exitCode(err))
  }
}
