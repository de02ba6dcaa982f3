// The HTTP shell: turns a node:http request into facts, asks the core, then does the I/O it calls for.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { decide, type Decision, type Fallback, type RequestFacts } from './decide.js'
import { redirectAnswer, tokenAnswer, type Answer } from './responses.js'
import { readTokenFile } from './token-file.js'
import { FORWARDED_HEADER } from './proxy.js'
import type { Runtime } from './runtime.js'
import type { HitCounter } from './hit-counter.js'

/** Boulder reads at most 128 bytes and fails a body of that size or more. */
const BOULDER_BODY_LIMIT = 128

function hostHeaders (raw: readonly string[]): string[] {
  const hosts: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() === 'host') hosts.push(raw[i + 1] ?? '')
  }
  return hosts
}

export function requestFacts (req: IncomingMessage): RequestFacts {
  return {
    method: req.method ?? '',
    target: req.url ?? '',
    hostHeaders: hostHeaders(req.rawHeaders),
    httpVersion: req.httpVersion,
    forwarded: req.headers[FORWARDED_HEADER] !== undefined
  }
}

function send (req: IncomingMessage, res: ServerResponse, a: Answer): void {
  // A request body we do not read would otherwise be drained to keep the connection alive.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.shouldKeepAlive = false
  res.writeHead(a.status, a.headers)
  res.end(req.method === 'HEAD' ? undefined : a.body)
}

interface Outcome { readonly outcome: string, readonly answer: Answer, readonly detail?: Record<string, unknown> }

async function fallback (rt: Runtime, token: string, fb: Fallback, log: Logger): Promise<Outcome> {
  switch (fb.kind) {
    case 'redirect': return { outcome: 'redirected', answer: redirectAnswer(rt.answers, fb.location), detail: { location: fb.location } }
    case 'stateless': return { outcome: 'stateless', answer: tokenAnswer(rt.answers, Buffer.from(fb.body)) }
    case 'not-found': return { outcome: 'not-found', answer: rt.answers.notFound }
    case 'proxy': {
      if (rt.proxy === undefined) return { outcome: 'not-found', answer: rt.answers.notFound }
      const result = await rt.proxy.fetch(token, log)
      if (result.kind === 'found') return { outcome: 'proxied', answer: tokenAnswer(rt.answers, result.body), detail: { master: result.master, tries: result.tries } }
      if (result.kind === 'not-found') return { outcome: 'not-found', answer: rt.answers.notFound, detail: { tries: result.tries } }
      return { outcome: 'unreachable', answer: rt.answers.badGateway, detail: { tries: result.tries } }
    }
  }
}

async function challenge (rt: Runtime, d: Extract<Decision, { kind: 'challenge' }>, log: Logger): Promise<Outcome> {
  const read = await readTokenFile(rt.config.challengeDir, d.token, rt.config.maxTokenSize)
  if (read.kind === 'found') {
    if (read.body.length >= BOULDER_BODY_LIMIT) {
      log.warn({ token: d.token, bytes: read.body.length }, `token file is ${read.body.length} bytes: Boulder rejects bodies of ${BOULDER_BODY_LIMIT} bytes or more`)
    }
    return { outcome: 'served', answer: tokenAnswer(rt.answers, read.body) }
  }
  if (read.kind === 'unusable') {
    log.error({ token: d.token, file: read.file, why: read.why }, `refusing token file ${read.file}: it ${read.why}`)
    return { outcome: 'unusable', answer: rt.answers.unusable }
  }
  return await fallback(rt, d.token, d.fallback, log)
}

export function createHandler (runtime: () => Runtime, log: Logger, hits: HitCounter) {
  return function handle (req: IncomingMessage, res: ServerResponse): void {
    const rt = runtime()
    const started = process.hrtime.bigint()
    const facts = requestFacts(req)
    const d = decide(facts, rt.policy)
    switch (d.kind) {
      case 'maintenance': hits.count('maintenance'); send(req, res, rt.answers.maintenance); return
      case 'bad-request': hits.count('bad-request'); send(req, res, rt.answers.badRequest); return
      default: break
    }
    const work: Promise<Outcome> = d.kind === 'challenge'
      ? challenge(rt, d, log)
      : Promise.resolve(d.kind === 'method-not-allowed'
        ? { outcome: 'method-not-allowed', answer: rt.answers.methodNotAllowed }
        : { outcome: 'invalid-token', answer: rt.answers.invalidToken })
    work.catch((err: unknown): Outcome => {
      log.error({ err }, 'unexpected error answering a challenge')
      return { outcome: 'error', answer: rt.answers.unusable }
    }).then((o) => {
      if (!res.headersSent && !res.destroyed) send(req, res, o.answer)
      log.info({
        method: facts.method,
        host: facts.hostHeaders[0],
        token: d.kind === 'challenge' ? d.token : undefined,
        outcome: o.outcome,
        status: o.answer.status,
        remote: req.socket.remoteAddress,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        ua: req.headers['user-agent'],
        ...o.detail
      }, 'challenge request')
    }).catch(() => {})
  }
}
