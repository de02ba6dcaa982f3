// The server: binds every listener, drops privileges, answers; a handle to reload or close it.
import { stat } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { Config } from '../config/config.js'
import { RESTART_ONLY } from '../config/options.js'
import { createHandler } from './handler.js'
import { createHitCounter } from './hit-counter.js'
import type { Log } from './logger.js'
import { dropPrivileges, type Account } from './privileges.js'
import { unreadableAfterDrop } from './readable.js'
import { buildRuntime, type Runtime } from './runtime.js'
import { applyLimits, createHttpServer, drain, formatAddress, listen, type TlsShell } from './server.js'
import { createConnectionTable, type TableLimits } from './connection-table.js'
import { createValidations } from './validations.js'
import type { Server as TlsServer } from 'node:tls'
import type { Certificates } from './certificates.js'
import type { Listener } from '../config/listen.js'
import { createMetrics, createMetricsServer } from './metrics.js'

export interface ServerHandle {
  /** The bound addresses, as ip:port or [ipv6]:port. */
  readonly addresses: readonly string[]
  /** Swaps in a new configuration; throws (and keeps the old one) when it cannot be built. */
  reload (next: Config): Promise<void>
  /** Stops accepting, lets in-flight requests finish (within drainGrace), releases everything. */
  close (): Promise<void>
  /** A reload's result, for the metrics (the config is loaded, and may fail, outside). */
  reloaded (ok: boolean): void
}

export interface ServeDeps {
  readonly log: Log
  readonly account: Account
  /** Wraps each runtime as it is built: the tests' way to inject a failing token store. */
  readonly wrap?: (rt: Runtime) => Runtime
}

/** node:https and the TLS version floor, loaded only when a certificate is given. */
async function tlsShell (certificates: () => Certificates | undefined, failed: () => void): Promise<TlsShell> {
  const [https, { MIN_VERSION }] = await Promise.all([import('node:https'), import('./certificates.js')])
  return { https, minVersion: MIN_VERSION, certificates, failed }
}

/** The longest a drain can take: an answer waiting on the masters gets its whole budget. */
export const drainGrace = (c: Config): number => Math.max(5000, c.proxyBudget + 1000)

/** What the connection table needs of a runtime: its caps, and the largest answer it can queue. */
const tableLimits = (rt: Runtime): TableLimits => ({
  maxConnections: rt.config.maxConnections,
  maxConnectionsPerClient: rt.config.maxConnectionsPerClient,
  answerBytes: Math.max(rt.answers.largest, rt.config.maxTokenSize)
})

export async function serve (config: Config, deps: ServeDeps): Promise<ServerHandle> {
  const { log, account } = deps
  // Only with --metrics-listen: without it every hook below is a check of undefined.
  const metrics = config.metricsListen === undefined ? undefined : createMetrics({ connectionsOpen: () => conns.open() })
  const tried = metrics === undefined ? undefined : (master: string, result: string): void => { metrics.inc('acme_responder_proxy_fetches_total', { master, result }) }
  const build = async (c: Config): Promise<Runtime> => (deps.wrap ?? ((rt) => rt))(await buildRuntime(c, tried))
  let runtime = await build(config)
  const conns = createConnectionTable(tableLimits(runtime), metrics === undefined ? undefined : (reason) => { metrics.inc('acme_responder_connections_closed_total', { reason }) })
  const hits = createHitCounter(() => log.logger, undefined, () => conns.report())
  const validations = createValidations(() => log.logger, (why) => {
    hits.count(why)
    metrics?.inc('acme_responder_validations_total', { result: 'not_summarised' })
  }, metrics === undefined ? undefined : (ok) => { metrics.inc('acme_responder_validations_total', { result: ok ? 'ok' : 'failed' }) })
  // Summaries are written once a token's requests have been quiet for QUIET_MS: looked for every second,
  // as are the connections that closed (the table keeps no listener on each).
  const summaries = setInterval(() => {
    validations.flush()
    conns.sweep()
  }, 1000)
  summaries.unref()
  const handler = createHandler(() => runtime, log.logger, hits, validations, metrics)
  // Sockets accept as soon as they are bound, while we are still root: requests that arrive before the
  // privileges are dropped wait here, so not a single one is served as root.
  let waiting: Array<() => void> | undefined = []
  const gated: typeof handler = (req, res) => {
    if (waiting === undefined) handler(req, res)
    else waiting.push(() => handler(req, res))
  }
  /** Every answering server (limits, drain), and of them the plain and the HTTPS ones (log, renewal). */
  const servers: Server[] = []
  const plainServers: Server[] = []
  const tlsServers: Server[] = []
  let shell: TlsShell | undefined
  let scrape: Server | undefined
  const bind = async (l: Listener, tls: TlsShell | undefined, into: Server[]): Promise<void> => {
    const bound = await listen(createHttpServer(gated, config, (k) => hits.count(k), conns, tls), l)
    if (bound === undefined) log.logger.warn({ listen: formatAddress(l) }, `no IPv6 on this host: not listening on ${formatAddress(l)}`)
    else {
      servers.push(bound)
      into.push(bound)
    }
  }
  try {
    for (const l of config.listen) await bind(l, undefined, plainServers)
    if (runtime.tls !== undefined) {
      shell = await tlsShell(() => runtime.tls, () => {
        hits.count('tls handshake failed')
        metrics?.inc('acme_responder_tls_handshake_failures_total')
      })
      for (const l of config.listenTls) await bind(l, shell, tlsServers)
    }
    // The scrape port is bound as root too (any port), and is not one of the answering servers.
    if (metrics !== undefined && config.metricsListen !== undefined) {
      const bound = await listen(createMetricsServer(metrics), config.metricsListen)
      if (bound !== undefined) scrape = bound
    }
    // Files reread on SIGHUP are read as the dropped user: say now which ones it could not read.
    for (const u of await unreadableAfterDrop(account, [config.configFile, config.maintenancePage, config.challengeDir, ...config.tls.flatMap((p) => [p.cert, p.key])])) {
      log.logger.warn({ file: u.file, user: account.user }, `${u.file} will not be readable by ${account.user ?? `group ${String(account.gid)}`} after the drop: ${u.why}`)
    }
    dropPrivileges(account)
  } catch (err) {
    for (const s of servers) s.close()
    scrape?.close()
    clearInterval(summaries)
    hits.stop()
    throw err
  }
  const early = waiting
  waiting = undefined
  for (const serveLater of early) serveLater()

  if (await stat(config.challengeDir).catch(() => undefined) === undefined) {
    log.logger.warn({ challengeDir: config.challengeDir }, 'challenge directory does not exist yet: every token is missing here')
  }
  const where = (s: Server): string => { const a = s.address(); return typeof a === 'object' && a !== null ? formatAddress({ host: a.address, port: a.port }) : String(a) }
  const addresses = plainServers.map(where)
  log.logger.info({
    listen: addresses,
    ...tlsServers.length === 0 ? {} : { listenTls: tlsServers.map(where) },
    challengeDir: config.challengeDir,
    masters: config.masters.map((m) => m.url),
    mode: config.mode,
    ...scrape === undefined ? {} : { metrics: where(scrape) },
    stateless: config.thumbprints.length > 0,
    uid: process.getuid?.()
  }, 'acme-responder listening')

  return {
    addresses,
    async reload (next) {
      const rt = await build(next)
      const old = runtime
      for (const key of RESTART_ONLY) {
        if (JSON.stringify(next[key]) !== JSON.stringify(old.config[key])) log.logger.warn({ option: key }, `${key} changes only on restart`)
      }
      runtime = rt
      log.logger.level = next.logLevel
      applyLimits(servers, next)
      conns.setLimits(tableLimits(rt))
      // New connections get the renewed certificates; those already open keep theirs.
      const first = rt.tls?.first
      if (first !== undefined && shell !== undefined) for (const s of tlsServers) (s as unknown as TlsServer).setSecureContext({ key: first.key, cert: first.cert, minVersion: shell.minVersion })
      // Requests already waiting on the old proxy keep it until they finish.
      if (old.proxy !== undefined) setTimeout(() => { old.proxy?.close().catch(() => {}) }, old.config.proxyBudget + 1000).unref()
      log.logger.info('configuration reloaded')
    },
    reloaded (ok) { metrics?.inc('acme_responder_reloads_total', { result: ok ? 'ok' : 'failed' }) },
    async close () {
      scrape?.close()
      scrape?.closeAllConnections()
      await drain(servers, conns, drainGrace(runtime.config))
      clearInterval(summaries)
      // A validation still under way is summarised as far as it got.
      validations.flush(true)
      hits.stop()
      await runtime.proxy?.close()
    }
  }
}
