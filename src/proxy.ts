// Proxy mode: fetches a token from the masters in order with undici, bounded in time, sockets and bytes.
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { Master } from './config.js'
import { CHALLENGE_PREFIX } from './target.js'
import { failureCode, readUpTo } from './upstream.js'

/** Marks a request a responder forwarded; one that arrives with it is answered from local files only. */
export const FORWARDED_HEADER = 'x-acme-responder-forwarded'

export interface Try { readonly master: string, readonly ms: number, readonly result: string }

export type ProxyResult =
  | { readonly kind: 'found', readonly body: Buffer, readonly master: string, readonly tries: readonly Try[] }
  | { readonly kind: 'not-found' | 'unreachable', readonly tries: readonly Try[] }

export interface Proxy {
  fetch (token: string, log: Logger): Promise<ProxyResult>
  close (): Promise<void>
}

export interface ProxySettings {
  readonly masters: readonly Master[]
  readonly timeout: number
  readonly budget: number
  readonly maxSize: number
  readonly userAgent: string
}

/** A small socket bound per master: a slow master queues requests instead of eating descriptors. */
const CONNECTIONS_PER_MASTER = 4

type Attempt = { kind: 'ok', body: Buffer } | { kind: '404' } | { kind: 'failed', why: string }

async function attempt (agent: Dispatcher, url: URL, s: ProxySettings, ms: number): Promise<Attempt> {
  try {
    const res = await agent.request({
      origin: url.origin,
      path: url.pathname,
      method: 'GET',
      // Only what the master needs: the client's own headers are not copied upstream.
      headers: { [FORWARDED_HEADER]: '1', 'user-agent': s.userAgent, accept: '*/*' },
      signal: AbortSignal.timeout(ms),
      headersTimeout: ms,
      bodyTimeout: ms
    })
    if (res.statusCode !== 200) {
      // dump() reads a little and closes cleanly; destroy() would surface as an aborted request.
      await res.body.dump({ limit: s.maxSize }).catch(() => {})
      return res.statusCode === 404 ? { kind: '404' } : { kind: 'failed', why: `status ${res.statusCode}` }
    }
    const body = await readUpTo(res.body, s.maxSize)
    return body.length > s.maxSize ? { kind: 'failed', why: `body over ${s.maxSize} bytes` } : { kind: 'ok', body }
  } catch (err) {
    const code = failureCode(err)
    return { kind: 'failed', why: code === 'TIMEOUT' ? `timeout after ${ms} ms` : code ?? (err as Error).message }
  }
}

export async function createProxy (s: ProxySettings): Promise<Proxy> {
  // Loaded here, not at start: only proxy mode and `check` pay for undici.
  const { Agent } = await import('undici')
  const agent = new Agent({ connections: CONNECTIONS_PER_MASTER, keepAliveTimeout: 4000, connectTimeout: s.timeout })
  const inFlight = new Map<string, Promise<ProxyResult>>()

  async function fetchFromMasters (token: string): Promise<ProxyResult> {
    const deadline = Date.now() + s.budget
    const tries: Try[] = []
    let failures = 0
    for (const m of s.masters) {
      const left = deadline - Date.now()
      if (left <= 0) {
        tries.push({ master: m.url, ms: 0, result: 'skipped: budget spent' })
        failures++
        continue
      }
      const t0 = performance.now()
      const a = await attempt(agent, new URL(`${m.url}${CHALLENGE_PREFIX}/${token}`), s, Math.min(s.timeout, left))
      const ms = Math.round(performance.now() - t0)
      if (a.kind === 'ok') {
        tries.push({ master: m.url, ms, result: '200' })
        return { kind: 'found', body: a.body, master: m.url, tries }
      }
      tries.push({ master: m.url, ms, result: a.kind === '404' ? '404' : a.why })
      if (a.kind === 'failed') failures++
    }
    // A master that failed may hold the token, so only a unanimous 404 is a 404.
    return { kind: failures === 0 ? 'not-found' : 'unreachable', tries }
  }

  return {
    fetch (token, log) {
      // The CA's perspectives ask for one token at nearly the same time: they share one upstream fetch.
      let p = inFlight.get(token)
      if (p === undefined) {
        p = fetchFromMasters(token).finally(() => inFlight.delete(token))
        inFlight.set(token, p)
        p.then((r) => {
          for (const t of r.tries) if (t.result !== '200' && t.result !== '404') log.warn({ token, master: t.master, ms: t.ms, why: t.result }, `master ${t.master} failed: ${t.result}`)
        }, () => {})
      }
      return p
    },
    async close () { await agent.close() }
  }
}
