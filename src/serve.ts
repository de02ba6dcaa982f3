// The serve command's shell: loads config, binds, drops privileges, answers, reloads and drains.
import { stat } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { Config } from './config.js'
import { loadConfig, type Sources } from './config-load.js'
import { createHandler } from './handler.js'
import { createHitCounter } from './hit-counter.js'
import { createLog, type Log } from './logger.js'
import { dropPrivileges, resolveAccount } from './privileges.js'
import { unreadableAfterDrop } from './readable.js'
import { buildRuntime, type Runtime } from './runtime.js'
import { createHttpServer, drain, formatAddress, listen, type Limits } from './server.js'
import type { SignalGate } from './signals.js'

/** Settings that only a restart can change (sockets, identity, log destination, parser limits). */
const RESTART_ONLY = ['listen', 'user', 'group', 'logFile', 'maxHeaderSize'] as const

function applyLimits (servers: readonly Server[], l: Limits): void {
  for (const s of servers) {
    s.maxConnections = l.maxConnections
    s.headersTimeout = l.headersTimeout
    s.requestTimeout = l.requestTimeout
    s.keepAliveTimeout = l.keepAliveTimeout
    s.timeout = Math.max(l.requestTimeout, l.keepAliveTimeout) + 1000
  }
}

/** The longest a drain can take: an answer waiting on the masters gets its whole budget. */
export const drainGrace = (c: Config): number => Math.max(5000, c.proxyBudget + 1000)

export async function serve (src: Sources, signals: SignalGate, exit: (code: number) => void): Promise<void> {
  const config = await loadConfig(src)
  // Resolved while root and before anything is opened: an unknown user stops the start here.
  const account = resolveAccount(config.user, config.group)
  const log: Log = createLog(config.logLevel, config.logFile, account)
  const servers: Server[] = []
  try {
    await start(config, src, signals, exit, log, account, servers)
  } catch (err) {
    for (const s of servers) s.close()
    // Every early exit leaves a complete log behind it.
    log.flush()
    throw err
  }
}

async function start (config: Config, src: Sources, signals: SignalGate, exit: (code: number) => void, log: Log, account: ReturnType<typeof resolveAccount>, servers: Server[]): Promise<void> {
  let runtime: Runtime = await buildRuntime(config)
  const hits = createHitCounter(() => log.logger)
  const handler = createHandler(() => runtime, log.logger, hits)
  // Sockets accept as soon as they are bound, while we are still root: requests that arrive before the
  // privileges are dropped wait here, so not a single one is served as root.
  let waiting: Array<() => void> | undefined = []
  const gated: typeof handler = (req, res) => {
    if (waiting === undefined) handler(req, res)
    else waiting.push(() => handler(req, res))
  }
  for (const l of config.listen) {
    const bound = await listen(createHttpServer(gated, config, (k) => hits.count(k)), l)
    if (bound === undefined) log.logger.warn({ listen: formatAddress(l) }, `no IPv6 on this host: not listening on ${formatAddress(l)}`)
    else servers.push(bound)
  }
  // Files reread on SIGHUP are read as the dropped user: say now which ones it could not read.
  for (const u of await unreadableAfterDrop(account, [config.configFile, config.maintenancePage, config.challengeDir])) {
    log.logger.warn({ file: u.file, user: account.user }, `${u.file} will not be readable by ${account.user ?? `group ${String(account.gid)}`} after the drop: ${u.why}`)
  }
  dropPrivileges(account)
  const early = waiting
  waiting = undefined
  for (const serveLater of early) serveLater()

  if (await stat(config.challengeDir).catch(() => undefined) === undefined) {
    log.logger.warn({ challengeDir: config.challengeDir }, 'challenge directory does not exist yet: every token is missing here')
  }
  log.logger.info({
    listen: servers.map((s) => { const a = s.address(); return typeof a === 'object' && a !== null ? formatAddress({ host: a.address, port: a.port }) : String(a) }),
    challengeDir: config.challengeDir,
    masters: config.masters.map((m) => m.url),
    mode: config.mode,
    stateless: config.thumbprints.length > 0,
    uid: process.getuid?.()
  }, 'acme-responder listening')

  // The account key is often root-only (dehydrated keeps it 0600): reloads keep the thumbprint read now.
  const keyThumbprints = new Map<string, string>()
  if (config.accountKey !== undefined && config.keyThumbprint !== undefined) keyThumbprints.set(config.accountKey, config.keyThumbprint)

  signals.attach({
    log: () => log.logger,
    async reload () {
      log.reopen()
      let next: Config
      let rt: Runtime
      try {
        next = await loadConfig(src, keyThumbprints)
        rt = await buildRuntime(next)
      } catch (err) {
        log.logger.error({ error: (err as Error).message }, 'reload refused, keeping the running configuration')
        return
      }
      const old = runtime
      for (const key of RESTART_ONLY) {
        if (JSON.stringify(next[key]) !== JSON.stringify(old.config[key])) log.logger.warn({ option: key }, `${key} changes only on restart`)
      }
      runtime = rt
      log.logger.level = next.logLevel
      applyLimits(servers, next)
      // Requests already waiting on the old proxy keep it until they finish.
      if (old.proxy !== undefined) setTimeout(() => { old.proxy?.close().catch(() => {}) }, old.config.proxyBudget + 1000).unref()
      log.logger.info('configuration reloaded')
    },
    async shutdown () {
      await drain(servers, drainGrace(runtime.config))
      hits.stop()
      await runtime.proxy?.close()
      log.logger.info('stopped')
      log.flush()
    },
    exit
  })
}
