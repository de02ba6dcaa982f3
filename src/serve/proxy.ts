// Proxy mode: fetches a token from the masters in order with undici, bounded in time, sockets and bytes.
import type { Dispatcher } from 'undici'
import type { Fetch, Try } from '../core/outcome.js'
import { clientKey, networkKey } from './client-budget.js'
import { createFairQueue } from './fair-queue.js'
import type { Master } from '../config/config.js'
import { CHALLENGE_PREFIX } from '../core/target.js'
import { failureCode, readUpTo } from './upstream.js'

/** Marks a request a responder forwarded; one that arrives with it is answered from local files only. */
export const FORWARDED_HEADER = 'x-acme-responder-forwarded'

export interface Proxy {
  /** `address` is the requester's: its client and network share the upstream slots fairly. */
  fetch (token: string, address: string | undefined): Promise<Fetch>
  close (): Promise<void>
}

export interface ProxySettings {
  readonly masters: readonly Master[]
  readonly timeout: number
  readonly budget: number
  readonly maxSize: number
  readonly userAgent: string
  /** Hears of every try of a master (the metrics' counter). */
  readonly tried?: ((master: string, result: string) => void) | undefined
}

/**
 * Fetches running at once, and the sockets per master. A CA's validation is one fetch (its perspectives'
 * requests for one token share it), so a few slots are plenty; more would only pass a flood on to a
 * master that is already slow. What waits for a slot is served fairly (see fair-queue.ts).
 */
const SLOTS = 4
/**
 * Fetches one client (an address, an IPv6 /64) may have running or waiting. The CA's perspectives come
 * from different addresses, one request each; a client asking for many random tokens at once is a flood.
 */
const FETCHES_PER_CLIENT = 2
/** Fetches waiting in all: a bound on memory whatever the number of flooding addresses. */
const FETCHES_WAITING = 256
/**
 * How long "every master said 404" is remembered for a token. Random tokens from a flood then cost one
 * fetch per interval, not one per request. A real token is never asked for before the ACME client has
 * written it (the CA only asks after the client says it is ready), so a short memory cannot hide it.
 */
const NOT_FOUND_MS = 2000
const MAX_NOT_FOUND = 10_000

/** `result` is the metrics' short name for how a failed try failed: a status, 'timeout' or 'failed'. */
type Attempt = { kind: 'ok', body: Buffer } | { kind: '404' } | { kind: 'failed', why: string, result: string }

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
      return res.statusCode === 404 ? { kind: '404' } : { kind: 'failed', why: `status ${res.statusCode}`, result: String(res.statusCode) }
    }
    const body = await readUpTo(res.body, s.maxSize)
    return body.length > s.maxSize ? { kind: 'failed', why: `body over ${s.maxSize} bytes`, result: 'failed' } : { kind: 'ok', body }
  } catch (err) {
    const code = failureCode(err)
    return code === 'TIMEOUT' ? { kind: 'failed', why: `timeout after ${ms} ms`, result: 'timeout' } : { kind: 'failed', why: code ?? (err as Error).message, result: 'failed' }
  }
}

export async function createProxy (s: ProxySettings): Promise<Proxy> {
  // Loaded here, not at start: only proxy mode and `check` pay for undici.
  const { Agent } = await import('undici')
  const agent = new Agent({ connections: SLOTS, keepAliveTimeout: 4000, connectTimeout: s.timeout })

  async function fetchFromMasters (token: string): Promise<Fetch> {
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
      s.tried?.(m.url, a.kind === 'ok' ? '200' : a.kind === '404' ? '404' : a.result)
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

  const inFlight = new Map<string, Promise<Fetch>>()
  const queue = createFairQueue({ slots: SLOTS, perClient: FETCHES_PER_CLIENT, waiting: FETCHES_WAITING })
  const notFound = new Map<string, number>()

  return {
    fetch (token, address) {
      // The CA's perspectives ask for one token at nearly the same time: they share one upstream fetch,
      // which costs none of them a share.
      const shared = inFlight.get(token)
      if (shared !== undefined) return shared
      const until = notFound.get(token)
      if (until !== undefined) {
        if (until > Date.now()) return Promise.resolve({ kind: 'not-found', tries: [] })
        notFound.delete(token)
      }
      const p = queue.run({ client: clientKey(address), network: networkKey(address) }, () => fetchFromMasters(token)).then((r): Fetch => {
        if (r === 'busy') return { kind: 'busy' }
        if (r.kind === 'not-found') {
          if (notFound.size >= MAX_NOT_FOUND) notFound.delete(notFound.keys().next().value as string)
          notFound.set(token, Date.now() + NOT_FOUND_MS)
        }
        return r
      }).finally(() => inFlight.delete(token))
      inFlight.set(token, p)
      return p
    },
    async close () { await agent.close() }
  }
}
