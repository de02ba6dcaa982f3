// Composition root: wires the commands to the process (environment, platform, exit codes). Nothing else.
import { ConfigError } from './config.js'
import type { RawOptions } from './options.js'
import { PrivilegeError } from './privileges.js'
import { PageError } from './runtime.js'
import { serve } from './serve.js'
import { ListenError } from './server.js'
import { thumbprintFromKeyFile } from './thumbprint.js'

export type Command = 'serve' | 'thumbprint'

/** Invalid configuration exits 2; a listener or privilege failure exits 1; always one line. */
function exitCode (err: unknown): number {
  if (err instanceof ConfigError || err instanceof PageError) return 2
  if (err instanceof ListenError || err instanceof PrivilegeError) return 1
  return 1
}

export async function main (command: Command, flags: RawOptions, _args: readonly string[]): Promise<void> {
  const src = { flags, env: process.env, platform: process.platform }
  try {
    switch (command) {
      case 'serve':
        await serve(src, (code) => process.exit(code))
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
