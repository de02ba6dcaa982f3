// The HTTP shell: turns a node:http request into facts, asks the core, then does the I/O it calls for.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { clientKey, createRateBudget, type RateBudget } from './client-budget.js'
import { decide, type Decision, type RequestFacts } from './decide.js'
import type { HitCounter } from './hit-counter.js'
import { FORWARDED_HEADER } from './proxy.js'
import { redirectAnswer, tokenAnswer, type Answer } from './responses.js'
import type { Runtime } from './runtime.js'
import type { TokenRead } from './token-file.js'

/** Boulder reads at most 128 bytes and fails a body of that size or more. */
const BOULDER_BODY_LIMIT = 128

type Challenge = Extract<Decision, { kind: 'challenge' }>
interface Outcome {
  readonly outcome: string
  readonly answer: Answer
  readonly detail?: Record<string, unknown>
  /** Above info when the operator must act (an unusable file, a failing master). */
  readonly level?: 'warn' | 'error'
  readonly msg?: string
}

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

export function requestFacts (req: IncomingMessage, s: Scan = scan(req.rawHeaders)): RequestFacts {
  return { method: req.method ?? '', target: req.url ?? '', hostHeaders: s.hosts, httpVersion: req.httpVersion, forwarded: s.forwarded }
}

function send (req: IncomingMessage, res: ServerResponse, a: Answer, hasBody: boolean): void {
  // A request body we do not read would otherwise be drained to keep the connection alive.
  if (hasBody) res.shouldKeepAlive = false
  res.writeHead(a.status, a.headers)
  if (req.method === 'HEAD') res.end()
  else res.end(a.body, 'latin1')
}

/** Token answers are built once per file content: the store hands back the same Buffer while unchanged. */
const tokenAnswers = new WeakMap<Buffer, Answer>()
function served (rt: Runtime, body: Buffer): Answer {
  let a = tokenAnswers.get(body)
  if (a === undefined || a.headers['content-type'] !== rt.answers.contentType) {
    a = tokenAnswer(rt.answers, body)
    tokenAnswers.set(body, a)
  }
  return a
}

function afterRead (rt: Runtime, d: Challenge, read: TokenRead, client: string): Outcome | Promise<Outcome> {
  if (read.kind === 'found') {
    if (read.body.length >= BOULDER_BODY_LIMIT) {
      return { outcome: 'served', answer: served(rt, read.body), level: 'warn', detail: { bytes: read.body.length }, msg: `token file is ${read.body.length} bytes: Boulder rejects bodies of ${BOULDER_BODY_LIMIT} bytes or more` }
    }
    return { outcome: 'served', answer: served(rt, read.body) }
  }
  if (read.kind === 'unusable') {
    return { outcome: 'unusable', answer: rt.answers.unusable, level: 'error', detail: { file: read.file, why: read.why }, msg: `refusing token file ${read.file}: it ${read.why}` }
  }
  const fb = d.fallback
  switch (fb.kind) {
    case 'redirect': return { outcome: 'redirected', answer: redirectAnswer(rt.answers, fb.location), detail: { location: fb.location } }
    case 'stateless': return { outcome: 'stateless', answer: tokenAnswer(rt.answers, Buffer.from(fb.body)) }
    case 'not-found': return { outcome: 'not-found', answer: rt.answers.notFound }
    case 'proxy': return proxied(rt, d.token, client)
  }
}

async function proxied (rt: Runtime, token: string, client: string): Promise<Outcome> {
  if (rt.proxy === undefined) return { outcome: 'not-found', answer: rt.answers.notFound }
  const r = await rt.proxy.fetch(token, client)
  if (r.kind === 'busy') return { outcome: 'too-many', answer: rt.answers.tooMany }
  const failed = r.tries.filter((t) => t.result !== '200' && t.result !== '404')
  const loud = failed.length > 0 ? { level: 'warn' as const, msg: failed.map((t) => `master ${t.master} failed: ${t.result}`).join('; ') } : {}
  if (r.kind === 'found') return { outcome: 'proxied', answer: tokenAnswer(rt.answers, r.body), detail: { master: r.master, tries: r.tries }, ...loud }
  if (r.kind === 'not-found') return { outcome: 'not-found', answer: rt.answers.notFound, detail: { tries: r.tries } }
  return { outcome: 'unreachable', answer: rt.answers.badGateway, detail: { tries: r.tries }, ...loud }
}

function settle (rt: Runtime, d: Challenge, client: string): Outcome | Promise<Outcome> {
  const read = rt.tokens.lookup(d.token)
  return read instanceof Promise ? read.then((r) => afterRead(rt, d, r, client)) : afterRead(rt, d, read, client)
}

export function createHandler (runtime: () => Runtime, log: Logger, hits: HitCounter, budget: RateBudget = createRateBudget(LOG_PER_CLIENT, LOG_IN_ALL)) {
  function finish (req: IncomingMessage, res: ServerResponse, facts: RequestFacts, s: Scan, token: string | undefined, o: Outcome, started: number, client: string): void {
    if (!res.headersSent && !res.destroyed) send(req, res, o.answer, s.body)
    const level = o.level ?? 'info'
    // The line is built only when it will be written, and only within the client's log budget.
    if (!log.isLevelEnabled(level)) return
    if (!budget.take(client)) {
      hits.count(`challenge ${o.outcome} (over the log budget)`)
      return
    }
    log[level]({
      method: facts.method,
      host: cut(facts.hostHeaders[0]),
      token,
      ...(token === undefined ? { target: cut(facts.target) } : {}),
      outcome: o.outcome,
      status: o.answer.status,
      remote: req.socket.remoteAddress,
      ms: Math.round((performance.now() - started) * 1000) / 1000,
      ua: cut(s.ua),
      ...o.detail
    }, o.msg ?? 'challenge request')
  }

  function answer (req: IncomingMessage, res: ServerResponse): void {
    const rt = runtime()
    const started = performance.now()
    const s = scan(req.rawHeaders)
    const facts = requestFacts(req, s)
    const d = decide(facts, rt.policy)
    const client = clientKey(req.socket.remoteAddress)
    switch (d.kind) {
      case 'maintenance': hits.count('maintenance'); send(req, res, rt.answers.maintenance, s.body); return
      case 'bad-request': hits.count('bad-request'); send(req, res, rt.answers.badRequest, s.body); return
      case 'method-not-allowed': finish(req, res, facts, s, undefined, { outcome: 'method-not-allowed', answer: rt.answers.methodNotAllowed }, started, client); return
      case 'invalid-token': finish(req, res, facts, s, undefined, { outcome: 'invalid-token', answer: rt.answers.invalidToken }, started, client); return
      case 'challenge': break
    }
    let o: Outcome | Promise<Outcome>
    try {
      o = settle(rt, d, client)
    } catch (err) {
      o = Promise.reject(err)
    }
    if (!(o instanceof Promise)) {
      finish(req, res, facts, s, d.token, o, started, client)
      return
    }
    o.catch((err: unknown): Outcome => {
      log.error({ err }, 'unexpected error answering a challenge')
      return { outcome: 'error', answer: rt.answers.unusable }
    }).then((out) => finish(req, res, facts, s, d.token, out, started, client), () => {})
  }

  // A request must never take the process down, whatever bug it finds: it gets a 500 and a log line.
  return function handle (req: IncomingMessage, res: ServerResponse): void {
    try {
      answer(req, res)
    } catch (err) {
      log.error({ err, target: (req.url ?? '').slice(0, 300) }, 'unexpected error answering a request')
      if (res.headersSent) res.destroy()
      else res.writeHead(500, { 'content-length': '0', connection: 'close' }).end()
    }
  }
}
