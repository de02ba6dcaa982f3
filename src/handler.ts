// The HTTP shell: turns a node:http request into facts, asks the core, then does the I/O it calls for.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { decide, type Decision, type RequestFacts } from './decide.js'
import type { HitCounter } from './hit-counter.js'
import { FORWARDED_HEADER } from './proxy.js'
import { redirectAnswer, tokenAnswer, type Answer } from './responses.js'
import type { Runtime } from './runtime.js'
import type { TokenRead } from './token-file.js'

/** Boulder reads at most 128 bytes and fails a body of that size or more. */
const BOULDER_BODY_LIMIT = 128

type Challenge = Extract<Decision, { kind: 'challenge' }>
interface Outcome { readonly outcome: string, readonly answer: Answer, readonly detail?: Record<string, unknown> }

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

function afterRead (rt: Runtime, d: Challenge, read: TokenRead, log: Logger): Outcome | Promise<Outcome> {
  if (read.kind === 'found') {
    if (read.body.length >= BOULDER_BODY_LIMIT) {
      log.warn({ token: d.token, bytes: read.body.length }, `token file is ${read.body.length} bytes: Boulder rejects bodies of ${BOULDER_BODY_LIMIT} bytes or more`)
    }
    return { outcome: 'served', answer: served(rt, read.body) }
  }
  if (read.kind === 'unusable') {
    log.error({ token: d.token, file: read.file, why: read.why }, `refusing token file ${read.file}: it ${read.why}`)
    return { outcome: 'unusable', answer: rt.answers.unusable }
  }
  const fb = d.fallback
  switch (fb.kind) {
    case 'redirect': return { outcome: 'redirected', answer: redirectAnswer(rt.answers, fb.location), detail: { location: fb.location } }
    case 'stateless': return { outcome: 'stateless', answer: tokenAnswer(rt.answers, Buffer.from(fb.body)) }
    case 'not-found': return { outcome: 'not-found', answer: rt.answers.notFound }
    case 'proxy': return proxied(rt, d.token, log)
  }
}

async function proxied (rt: Runtime, token: string, log: Logger): Promise<Outcome> {
  if (rt.proxy === undefined) return { outcome: 'not-found', answer: rt.answers.notFound }
  const r = await rt.proxy.fetch(token, log)
  if (r.kind === 'found') return { outcome: 'proxied', answer: tokenAnswer(rt.answers, r.body), detail: { master: r.master, tries: r.tries } }
  if (r.kind === 'not-found') return { outcome: 'not-found', answer: rt.answers.notFound, detail: { tries: r.tries } }
  return { outcome: 'unreachable', answer: rt.answers.badGateway, detail: { tries: r.tries } }
}

function settle (rt: Runtime, d: Challenge, log: Logger): Outcome | Promise<Outcome> {
  const read = rt.tokens.lookup(d.token)
  return read instanceof Promise ? read.then((r) => afterRead(rt, d, r, log)) : afterRead(rt, d, read, log)
}

export function createHandler (runtime: () => Runtime, log: Logger, hits: HitCounter) {
  function finish (req: IncomingMessage, res: ServerResponse, facts: RequestFacts, s: Scan, token: string | undefined, o: Outcome, started: number): void {
    if (!res.headersSent && !res.destroyed) send(req, res, o.answer, s.body)
    // The line is built only when it will be written.
    if (!log.isLevelEnabled('info')) return
    log.info({
      method: facts.method,
      host: facts.hostHeaders[0],
      token,
      ...(token === undefined ? { target: facts.target.slice(0, 300) } : {}),
      outcome: o.outcome,
      status: o.answer.status,
      remote: req.socket.remoteAddress,
      ms: Math.round((performance.now() - started) * 1000) / 1000,
      ua: s.ua,
      ...o.detail
    }, 'challenge request')
  }

  function answer (req: IncomingMessage, res: ServerResponse): void {
    const rt = runtime()
    const started = performance.now()
    const s = scan(req.rawHeaders)
    const facts = requestFacts(req, s)
    const d = decide(facts, rt.policy)
    switch (d.kind) {
      case 'maintenance': hits.count('maintenance'); send(req, res, rt.answers.maintenance, s.body); return
      case 'bad-request': hits.count('bad-request'); send(req, res, rt.answers.badRequest, s.body); return
      case 'method-not-allowed': finish(req, res, facts, s, undefined, { outcome: 'method-not-allowed', answer: rt.answers.methodNotAllowed }, started); return
      case 'invalid-token': finish(req, res, facts, s, undefined, { outcome: 'invalid-token', answer: rt.answers.invalidToken }, started); return
      case 'challenge': break
    }
    let o: Outcome | Promise<Outcome>
    try {
      o = settle(rt, d, log)
    } catch (err) {
      o = Promise.reject(err)
    }
    if (!(o instanceof Promise)) {
      finish(req, res, facts, s, d.token, o, started)
      return
    }
    o.catch((err: unknown): Outcome => {
      log.error({ err }, 'unexpected error answering a challenge')
      return { outcome: 'error', answer: rt.answers.unusable }
    }).then((out) => finish(req, res, facts, s, d.token, out, started), () => {})
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
