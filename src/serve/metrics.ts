// The counters --metrics-listen serves, their Prometheus text exposition (format 0.0.4), and the scrape endpoint.
import { createServer, type Server } from 'node:http'

/**
 * Written by hand rather than with prom-client: a dozen counters and two gauges are about 80 lines, while
 * prom-client (with its dependencies) is some 30 modules to load and keeps per-metric objects and a
 * registry for features (histograms, summaries, aggregation across workers) this daemon does not use.
 */
type Labels = Readonly<Record<string, string>>

/** A counter's help and its series; the gauges are read when the exposition is written. */
interface Family {
  readonly help: string
  /** Label sets by their rendered form, `{a="b"}` (or '' for none). */
  readonly series: Map<string, number>
}

export interface Metrics {
  /** Adds n (1) to a counter's series. */
  inc (name: CounterName, labels?: Labels, n?: number): void
  /** The exposition, gauges read now. */
  text (): string
}

const COUNTERS = {
  acme_responder_answers_total: 'Answers given, by outcome and HTTP status.',
  acme_responder_validations_total: 'Validation summaries, by result (ok, failed, not_summarised).',
  acme_responder_token_files_refused_total: 'Token files refused (a symlink, a hard link, not a regular file, too big).',
  acme_responder_proxy_fetches_total: 'Proxy mode: fetches from a master, by master and result.',
  acme_responder_log_lines_over_budget_total: 'Challenge log lines not written because their client or all clients were over the log budget.',
  acme_responder_connections_closed_total: 'Connections the connection table closed to make room, by reason.',
  acme_responder_reloads_total: 'Reloads (SIGHUP), by result.',
  acme_responder_tls_handshake_failures_total: 'HTTPS handshakes that failed (no shared version or cipher, a scanner, a reset).'
} as const
export type CounterName = keyof typeof COUNTERS

/** A label value as the format wants it: backslash, double quote and newline escaped. */
const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

function render (labels: Labels | undefined): string {
  if (labels === undefined) return ''
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Distinct label sets per counter: a bound whatever values a flood makes appear (statuses, masters are few). */
const MAX_SERIES = 200

export interface Gauges {
  readonly connectionsOpen: () => number
}

export function createMetrics (gauges: Gauges, startedAt = Date.now()): Metrics {
  const families = new Map<string, Family>()
  for (const [name, help] of Object.entries(COUNTERS)) families.set(name, { help, series: new Map() })
  // A counter with no series yet is shown at 0, so a scrape sees every name from the start.
  for (const name of ['acme_responder_token_files_refused_total', 'acme_responder_log_lines_over_budget_total']) families.get(name)?.series.set('', 0)

  return {
    inc (name, labels, n = 1) {
      const f = families.get(name)
      if (f === undefined) return
      const key = render(labels)
      const v = f.series.get(key)
      if (v === undefined && f.series.size >= MAX_SERIES) return
      f.series.set(key, (v ?? 0) + n)
    },
    text () {
      const out: string[] = []
      const family = (name: string, type: string, help: string, series: Iterable<[string, number]>): void => {
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
        for (const [labels, v] of series) out.push(`${name}${labels} ${v}`)
      }
      for (const [name, f] of families) if (f.series.size > 0) family(name, 'counter', f.help, f.series)
      family('acme_responder_connections_open', 'gauge', 'Connections held now, all listeners together.', [['', gauges.connectionsOpen()]])
      family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [['', process.memoryUsage.rss()]])
      family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch in seconds.', [['', Math.round(startedAt / 1000)]])
      return out.join('\n') + '\n'
    }
  }
}

/**
 * The scrape endpoint: GET /metrics, nothing else. An operator's port on loopback, so a few connections
 * and short timeouts are all it needs; the responder's own ports never answer /metrics but with the page.
 */
export function createMetricsServer (metrics: Metrics): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-length': '0' }).end()
      return
    }
    const body = metrics.text()
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  server.maxConnections = 32
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  server.keepAliveTimeout = 5000
  return server
}
