// The serve command's shell: loads config, binds, drops privileges, answers, reloads and drains.
import { closeSync, openSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Server } from 'node:http'
import { ConfigError, type Config } from './config.js'
import { loadConfig, type Sources } from './config-load.js'
import { createHandler } from './handler.js'
import { createHitCounter } from './hit-counter.js'
import { createLog } from './logger.js'
import { dropPrivileges, giveTo } from './privileges.js'
import { buildRuntime, type Runtime } from './runtime.js'
import { createHttpServer, drain, formatAddress, listen, socketTimeout, type Limits } from './server.js'
import { installSignals } from './signals.js'

/** Settings that only a restart can change (sockets, identity, log destination). */
const RESTART_ONLY = ['listen', 'user', 'group', 'logFile'] as const

function checkLogFile (file: string | undefined): void {
  if (file === undefined) return
  try {
    closeSync(openSync(file, 'a'))
  } catch (err) {
    throw new ConfigError('log-file', `cannot open ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

function applyLimits (servers: readonly Server[], l: Limits): void {
  for (const s of servers) {
    s.maxConnections = l.maxConnections
    s.headersTimeout = l.headersTimeout
    s.requestTimeout = l.requestTimeout
    s.keepAliveTimeout = l.keepAliveTimeout
    s.timeout = socketTimeout(l)
  }
}

export async function serve (src: Sources, exit: (code: number) => void): Promise<void> {
  const config = await loadConfig(src)
  checkLogFile(config.logFile)
  if (config.logFile !== undefined) giveTo(config.logFile, config.user, config.group)
  let runtime: Runtime = await buildRuntime(config)
  const log = createLog(config.logLevel, config.logFile)
  const hits = createHitCounter(() => log.logger)
  const handler = createHandler(() => runtime, log.logger, hits)
  // Sockets accept as soon as they are bound, while we are still root: requests that arrive before the
  // privileges are dropped wait here, so not a single one is served as root.
  let waiting: Array<() => void> | undefined = []
  const gated: typeof handler = (req, res) => {
    if (waiting === undefined) handler(req, res)
    else waiting.push(() => handler(req, res))
  }

  const servers: Server[] = []
  try {
    for (const l of config.listen) {
      const bound = await listen(createHttpServer(gated, config, (k) => hits.count(k)), l)
      if (bound === undefined) log.logger.warn({ listen: formatAddress(l) }, `no IPv6 on this host: not listening on ${formatAddress(l)}`)
      else servers.push(bound)
    }
    await log.ready
    dropPrivileges(config.user, config.group)
  } catch (err) {
    for (const s of servers) s.close()
    throw err
  }
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

  installSignals({
    log: () => log.logger,
    async reload () {
      log.reopen()
      let next: Config
      let rt: Runtime
      try {
        next = await loadConfig(src)
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
      await drain(servers, Math.max(5000, runtime.config.proxyBudget + 1000))
      hits.stop()
      await runtime.proxy?.close()
      log.logger.info('stopped')
      log.flush()
    },
    exit
  })
}
