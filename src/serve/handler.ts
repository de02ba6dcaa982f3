// The HTTP shell: reads a request into facts, lets the core decide, does the lookup or fetch, writes, logs.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { decide, type RequestFacts } from '../core/decide.js'
import { afterFetch, afterLookup, settled, type Challenge, type Outcome } from '../core/outcome.js'
import { clientKey, createRateBudget, type RateBudget } from './client-budget.js'
import type { HitCounter } from './hit-counter.js'
import type { Metrics } from './metrics.js'
import { clip, detailFields, LOG_IN_ALL, LOG_PER_CLIENT, tokenFields } from './log-line.js'
import { FORWARDED_HEADER } from './proxy.js'
import type { Runtime } from './runtime.js'
import type { Validations } from './validations.js'
import { unreadAnswerTimeout } from './server.js'

/** A request as the shell holds it: the core's facts and what answering and logging it need. */
interface Request extends RequestFacts {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly rt: Runtime
  /** It has a body, which is not read: the connection closes after the answer. */
  readonly body: boolean
  readonly ua: string | undefined
}

const NO_HOST: readonly string[] = Object.freeze([])

/** A header name test that needs no lower-cased copy for the spelling nearly every client sends. */
const named = (name: string, usual: string, lower: string): boolean => name === usual || name.toLowerCase() === lower

/**
 * Reads what the core and the log need in one pass over rawHeaders (req.headers is built lazily, at a
 * cost), into one object: this runs for every request the host gets while Apache is down.
 */
function readRequest (req: IncomingMessage, res: ServerResponse, rt: Runtime): Request {
  const raw = req.rawHeaders
  let hostHeaders = NO_HOST
  let forwarded = false
  let body = false
  let ua: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? ''
    switch (name.length) {
      case 4: if (named(name, 'Host', 'host')) hostHeaders = hostHeaders.length === 0 ? [raw[i + 1] ?? ''] : [...hostHeaders, raw[i + 1] ?? '']; break
      case 10: if (named(name, 'User-Agent', 'user-agent')) ua = raw[i + 1]; break
      case 14: if (name.toLowerCase() === 'content-length') body = true; break
      case 17: if (name.toLowerCase() === 'transfer-encoding') body = true; break
      case FORWARDED_HEADER.length: if (name.toLowerCase() === FORWARDED_HEADER) forwarded = true; break
    }
  }
  return { method: req.method ?? '', target: req.url ?? '', hostHeaders, httpVersion: req.httpVersion, forwarded, req, res, rt, body, ua }
}

/** The budget key of the request's client: computed only for what is logged or fetched. */
const clientOf = (r: Request): string => clientKey(r.req.socket.remoteAddress)

/** A bug anywhere in the request path becomes this: a 500 and an error line, never a crash. */
const BUG: Outcome = { outcome: 'error', reply: { kind: 'fixed', name: 'unusable' }, log: 'line', level: 'error', msg: 'unexpected error answering a challenge' }

export function createHandler (runtime: () => Runtime, log: Logger, hits: HitCounter, validations?: Validations, metrics?: Metrics, budget: RateBudget = createRateBudget(LOG_PER_CLIENT, LOG_IN_ALL)) {
  /**
   * Writes the answer the outcome stands for, then logs it within the client's budget. A challenge's
   * line says how long its lookup (and fetch) took; other answers wait on nothing and read no clock.
   */
  function reply (r: Request, o: Outcome, token?: string, started?: bigint): void {
    const a = r.rt.answers.of(o.reply)
    if (!r.res.headersSent && !r.res.destroyed) {
      // A request body we do not read would otherwise be drained to keep the connection alive.
      if (r.body) r.res.shouldKeepAlive = false
      r.res.writeHead(a.status, a.headers as string[])
      if (r.method === 'HEAD') r.res.end()
      else r.res.end(a.body, 'latin1')
      // A client that stops reading (pipelining, say) leaves answers queued where no node:http timeout
      // looks: each new request on a socket turns its timeout off. So an answer queued behind an unfinished
      // one, or over the socket's buffer, arms a timer on its connection. Not writableLength: end() corks
      // until the next tick, so every answer is still buffered here. A server-wide socket timeout would
      // re-arm one for every answer.
      if (r.res.socket === null || r.req.socket.writableNeedDrain) r.req.socket.setTimeout(unreadAnswerTimeout(r.rt.config))
    }
    // Without --metrics-listen this is one check of undefined per answer.
    if (metrics !== undefined) {
      metrics.inc('acme_responder_answers_total', { outcome: o.outcome, status: String(a.status) })
      if (o.outcome === 'unusable') metrics.inc('acme_responder_token_files_refused_total')
    }
    if (o.log === 'count') {
      hits.count(o.outcome)
      return
    }
    // Every challenge answer goes into its token's summary, whatever the log budget says of its own line.
    if (token !== undefined) validations?.record({ token, address: r.req.socket.remoteAddress, host: r.hostHeaders[0], status: a.status, outcome: o.outcome, master: o.detail?.master as string | undefined })
    // The line is built only when it will be written.
    if (!log.isLevelEnabled(o.level)) return
    if (!budget.take(clientOf(r))) {
      hits.count(`challenge ${o.outcome} (over the log budget)`)
      metrics?.inc('acme_responder_log_lines_over_budget_total')
      return
    }
    const t = tokenFields(token)
    log[o.level]({
      method: r.method,
      host: clip(r.hostHeaders[0]),
      ...t,
      ...(token === undefined ? { target: clip(r.target) } : {}),
      outcome: o.outcome,
      status: a.status,
      remote: r.req.socket.remoteAddress,
      ms: started === undefined ? undefined : Math.round(Number(process.hrtime.bigint() - started) / 1000) / 1000,
      ua: clip(r.ua),
      ...detailFields(o.detail, t.tokenLength !== undefined)
    }, o.msg)
  }

  /** Step 3 when the core asks for it: the masters (proxy mode). */
  function viaMasters (r: Request, token: string, o: Outcome | 'proxy'): Outcome | Promise<Outcome> {
    if (o !== 'proxy') return o
    return r.rt.proxy === undefined ? afterFetch({ kind: 'not-found', tries: [] }) : r.rt.proxy.fetch(token, r.req.socket.remoteAddress).then(afterFetch)
  }

  /** The lookup, then the masters if needed; synchronous where the file system allows. */
  function resolve (r: Request, d: Challenge): Outcome | Promise<Outcome> {
    const found = r.rt.tokens.lookup(d.token)
    return found instanceof Promise ? found.then((l) => viaMasters(r, d.token, afterLookup(d, l))) : viaMasters(r, d.token, afterLookup(d, found))
  }

  function answer (req: IncomingMessage, res: ServerResponse): void {
    const r = readRequest(req, res, runtime())
    const d = decide(r, r.rt.policy)
    if (d.kind !== 'challenge') {
      reply(r, settled(d))
      return
    }
    // Not performance.now(): node:perf_hooks costs a quarter of a megabyte resident, for a clock.
    const started = process.hrtime.bigint()
    let o: Outcome | Promise<Outcome>
    try {
      o = resolve(r, d)
    } catch (err) {
      o = Promise.reject(err)
    }
    if (!(o instanceof Promise)) {
      reply(r, o, d.token, started)
      return
    }
    o.catch((err: unknown): Outcome => ({ ...BUG, detail: { err } })).then((out) => reply(r, out, d.token, started), () => {})
  }

  // A request must never take the process down, whatever bug it finds: it gets a 500 and a log line.
  return function handle (req: IncomingMessage, res: ServerResponse): void {
    try {
      answer(req, res)
    } catch (err) {
      log.error({ err, target: clip(req.url) }, 'unexpected error answering a request')
      if (res.headersSent) res.destroy()
      else res.writeHead(500, { 'content-length': '0', connection: 'close' }).end()
    }
  }
}
