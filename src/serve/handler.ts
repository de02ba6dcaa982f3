// The HTTP shell: reads a request into facts, lets the core decide, does the lookup or fetch, writes, logs.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { decide, type RequestFacts } from '../core/decide.js'
import { afterFetch, afterLookup, settled, type Challenge, type Outcome } from '../core/outcome.js'
import { clientKey, createRateBudget, type RateBudget } from './client-budget.js'
import type { HitCounter } from './hit-counter.js'
import { FORWARDED_HEADER } from './proxy.js'
import type { Runtime } from './runtime.js'
import { unreadAnswerTimeout } from './server.js'

/**
 * Challenge log lines: a validation is a handful of requests from a few addresses, each with a full
 * budget of its own; a flood from one address gets a few lines and then the per-minute count. The
 * global bucket bounds the log's growth under a flood from many addresses (about 20 lines a second).
 */
export const LOG_PER_CLIENT = { burst: 20, perSecond: 2 }
export const LOG_IN_ALL = { burst: 200, perSecond: 20 }
/** Client-controlled fields are cut to this many characters in a log line. */
export const LOG_FIELD_MAX = 200

const cut = (s: string | undefined): string | undefined => s === undefined || s.length <= LOG_FIELD_MAX ? s : s.slice(0, LOG_FIELD_MAX) + '…'

/** What the shell needs from the headers, read in one pass over rawHeaders (req.headers is built lazily). */
interface Scan { hosts: string[], forwarded: boolean, body: boolean, ua: string | undefined }

function scan (raw: readonly string[]): Scan {
  const out: Scan = { hosts: [], forwarded: false, body: false, ua: undefined }
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? ''
    switch (name.length) {
      case 4: if (name.toLowerCase() === 'host') out.hosts.push(raw[i + 1] ?? ''); break
      case 10: if (name.toLowerCase() === 'user-agent') out.ua = raw[i + 1]; break
      case 14: if (name.toLowerCase() === 'content-length') out.body = true; break
      case 17: if (name.toLowerCase() === 'transfer-encoding') out.body = true; break
      case FORWARDED_HEADER.length: if (name.toLowerCase() === FORWARDED_HEADER) out.forwarded = true; break
    }
  }
  return out
}

interface Request {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly rt: Runtime
  readonly facts: RequestFacts
  readonly scan: Scan
  readonly started: number
}

/** The budget key of the request's client: computed only for what is logged or fetched. */
const clientOf = (r: Request): string => clientKey(r.req.socket.remoteAddress)

/** A bug anywhere in the request path becomes this: a 500 and an error line, never a crash. */
const BUG: Outcome = { outcome: 'error', reply: { kind: 'fixed', name: 'unusable' }, log: 'line', level: 'error', msg: 'unexpected error answering a challenge' }

export function createHandler (runtime: () => Runtime, log: Logger, hits: HitCounter, budget: RateBudget = createRateBudget(LOG_PER_CLIENT, LOG_IN_ALL)) {
  /** Writes the answer the outcome stands for, then logs it within the client's budget. */
  function reply (r: Request, o: Outcome, token?: string): void {
    const a = r.rt.answers.of(o.reply)
    if (!r.res.headersSent && !r.res.destroyed) {
      // A request body we do not read would otherwise be drained to keep the connection alive.
      if (r.scan.body) r.res.shouldKeepAlive = false
      r.res.writeHead(a.status, a.headers as string[])
      if (r.req.method === 'HEAD') r.res.end()
      else r.res.end(a.body, 'latin1')
      // A client that stops reading (pipelining, say) leaves answers queued where no node:http timeout
      // looks: each new request on a socket turns its timeout off. So an answer queued behind an unfinished
      // one, or over the socket's buffer, arms a timer on its connection. Not writableLength: end() corks
      // until the next tick, so every answer is still buffered here. A server-wide socket timeout would
      // re-arm one for every answer.
      if (r.res.socket === null || r.req.socket.writableNeedDrain) r.req.socket.setTimeout(unreadAnswerTimeout(r.rt.config))
    }
    if (o.log === 'count') {
      hits.count(o.outcome)
      return
    }
    // The line is built only when it will be written.
    if (!log.isLevelEnabled(o.level)) return
    if (!budget.take(clientOf(r))) {
      hits.count(`challenge ${o.outcome} (over the log budget)`)
      return
    }
    log[o.level]({
      method: r.facts.method,
      host: cut(r.facts.hostHeaders[0]),
      token,
      ...(token === undefined ? { target: cut(r.facts.target) } : {}),
      outcome: o.outcome,
      status: a.status,
      remote: r.req.socket.remoteAddress,
      ms: Math.round((performance.now() - r.started) * 1000) / 1000,
      ua: cut(r.scan.ua),
      ...o.detail
    }, o.msg)
  }

  /** Lookup, then the masters if the core asks for them; synchronous where the file system allows. */
  function resolve (r: Request, d: Challenge): Outcome | Promise<Outcome> {
    const viaMasters = (o: Outcome | 'proxy'): Outcome | Promise<Outcome> =>
      o !== 'proxy' ? o : r.rt.proxy === undefined ? afterFetch({ kind: 'not-found', tries: [] }) : r.rt.proxy.fetch(d.token, clientOf(r)).then(afterFetch)
    const read = r.rt.tokens.lookup(d.token)
    return read instanceof Promise ? read.then((l) => viaMasters(afterLookup(d, l))) : viaMasters(afterLookup(d, read))
  }

  function answer (req: IncomingMessage, res: ServerResponse): void {
    const s = scan(req.rawHeaders)
    const r: Request = {
      req,
      res,
      rt: runtime(),
      facts: { method: req.method ?? '', target: req.url ?? '', hostHeaders: s.hosts, httpVersion: req.httpVersion, forwarded: s.forwarded },
      scan: s,
      started: performance.now()
    }
    const d = decide(r.facts, r.rt.policy)
    if (d.kind !== 'challenge') {
      reply(r, settled(d))
      return
    }
    let o: Outcome | Promise<Outcome>
    try {
      o = resolve(r, d)
    } catch (err) {
      o = Promise.reject(err)
    }
    if (!(o instanceof Promise)) {
      reply(r, o, d.token)
      return
    }
    o.catch((err: unknown): Outcome => ({ ...BUG, detail: { err } })).then((out) => reply(r, out, d.token), () => {})
  }

  // A request must never take the process down, whatever bug it finds: it gets a 500 and a log line.
  return function handle (req: IncomingMessage, res: ServerResponse): void {
    try {
      answer(req, res)
    } catch (err) {
      log.error({ err, target: cut(req.url) }, 'unexpected error answering a request')
      if (res.headersSent) res.destroy()
      else res.writeHead(500, { 'content-length': '0', connection: 'close' }).end()
    }
  }
}
