// Composition root: wires each command from its parts, and is the one place errors become exit codes.
import type { CheckArgs } from './check/flags.js'
import { loadConfig, type Sources } from './config/load.js'
import type { RawOptions } from './config/options.js'
import { createLog } from './serve/logger.js'
import { resolveAccount } from './serve/privileges.js'
import { serve } from './serve/serve.js'
import type { SignalGate } from './serve/signals.js'

export type Command = 'serve' | 'check' | 'thumbprint'

/**
 * Prints one line and exits. Errors carry their exit status: 2 for invalid configuration or usage,
 * 1 for a listener or privilege failure; anything else is 1.
 */
export function fail (err: unknown): never {
  process.stderr.write(`acme-responder: ${err instanceof Error ? err.message : String(err)}\n`)
  const code = (err as { exitCode?: unknown }).exitCode
  process.exit(typeof code === 'number' ? code : 1)
}

/** serve: config → account → log → server, then the signals drive reload and shutdown. */
async function serveCommand (src: Sources, signals: SignalGate): Promise<void> {
  const config = await loadConfig(src)
  // Resolved while root and before anything is opened: an unknown user stops the start here.
  const account = resolveAccount(config.user, config.group)
  const log = createLog(config.logLevel, config.logFile, account)
  let server
  try {
    server = await serve(config, { log, account })
  } catch (err) {
    // Every early exit leaves a complete log behind it.
    log.flush()
    throw err
  }
  // The account key is often root-only (dehydrated keeps it 0600): reloads keep the thumbprint read now.
  const keys = new Map<string, string>()
  if (config.accountKey !== undefined && config.keyThumbprint !== undefined) keys.set(config.accountKey, config.keyThumbprint)
  const running = server
  signals.attach({
    log: () => log.logger,
    async reload () {
      log.reopen()
      try {
        await running.reload(await loadConfig(src, keys))
        running.reloaded(true)
      } catch (err) {
        running.reloaded(false)
        log.logger.error({ error: (err as Error).message }, 'reload refused, keeping the running configuration')
      }
    },
    async shutdown () {
      await running.close()
      log.logger.info('stopped')
      log.flush()
    },
    exit: (code) => process.exit(code)
  })
}

/**
 * serve is the daemon, loaded with this module; check and thumbprint are one-shot commands whose
 * modules (the resolver, the TLD list, node:crypto) load only when they run, so the daemon's start and
 * memory do not pay for them.
 */
export async function main (command: Command, flags: RawOptions, args: CheckArgs, signals: SignalGate): Promise<void> {
  const src: Sources = { flags, env: process.env, platform: process.platform }
  try {
    switch (command) {
      case 'serve':
        await serveCommand(src, signals)
        break
      case 'check': {
        const { check } = await import('./check/command.js')
        process.exitCode = await check(src, args, process.stdout)
        break
      }
      case 'thumbprint': {
        const { thumbprintFromKeyFile } = await import('./config/thumbprint.js')
        process.stdout.write(await thumbprintFromKeyFile(String(flags['account-key'])) + '\n')
        break
      }
    }
  } catch (err) {
    fail(err)
  }
}
