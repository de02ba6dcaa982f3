// One validation the way the CA's validator does it: GET on one address, following redirects by its rules.
import { isIP } from 'node:net'
import { CHALLENGE_PREFIX } from '../core/target.js'
import { failureCode, readUpTo } from '../serve/upstream.js'
import { connectFix, followRedirect, hostOf, isPublicAddress, judgeAnswer, portOf } from './rules.js'
import { BOULDER_BODY_LIMIT } from '../core/outcome.js'

export interface Hop {
  readonly url: string
  readonly address: string
  readonly status?: number
  readonly location?: string
  /** The answer's Server header: two addresses of one name that differ here are two different hosts. */
  readonly server?: string
  readonly ms: number
}

export interface ProbeResult {
  readonly ok: boolean
  readonly hops: readonly Hop[]
  readonly error?: string
  readonly fix?: string
  readonly body?: string
}

export interface ProbeSettings {
  readonly httpPort: number
  readonly timeoutMs: number
  readonly userAgent: string
  /** Addresses for a redirect target's host name, IPv6 first. */
  readonly resolve: (host: string) => Promise<readonly string[]>
  /** Lab setups: follow redirects to private and loopback addresses, which the CA refuses. */
  readonly allowPrivate: boolean
}

interface Fetched { status: number, location: string | undefined, contentType: string | undefined, server: string | undefined, body: Buffer }

const one = (v: string | string[] | undefined): string | undefined => Array.isArray(v) ? v[0] : v

type Undici = typeof import('undici')

/** One hop on a connection of its own (the validator disables keep-alive), certificate errors ignored. */
async function fetchOnce (undici: Undici, url: URL, address: string, s: ProbeSettings): Promise<Fetched> {
  const https = url.protocol === 'https:'
  const origin = `${url.protocol}//${address.includes(':') ? `[${address}]` : address}:${portOf(url)}`
  const client = new undici.Client(origin, {
    connect: { rejectUnauthorized: false, ...(https ? { servername: url.hostname } : {}) },
    connectTimeout: s.timeoutMs,
    headersTimeout: s.timeoutMs,
    bodyTimeout: s.timeoutMs,
    pipelining: 0
  })
  try {
    const res = await client.request({
      path: url.pathname + url.search,
      method: 'GET',
      headers: { host: url.host, 'user-agent': s.userAgent, accept: '*/*' },
      signal: AbortSignal.timeout(s.timeoutMs)
    })
    return {
      status: res.statusCode,
      location: one(res.headers.location),
      contentType: one(res.headers['content-type']),
      server: one(res.headers.server),
      body: await readUpTo(res.body, BOULDER_BODY_LIMIT)
    }
  } finally {
    client.destroy().catch(() => {})
  }
}

export async function probe (undici: Undici, name: string, address: string, token: string, expected: string, s: ProbeSettings): Promise<ProbeResult> {
  const hops: Hop[] = []
  const seen: string[] = []
  // An IP address identifier (RFC 8738) is its own Host, an IPv6 one in brackets.
  const authority = isIP(name) === 6 ? `[${name}]` : name
  let url = new URL(`http://${authority}${s.httpPort === 80 ? '' : `:${s.httpPort}`}${CHALLENGE_PREFIX}/${token}`)
  let target = address
  /** Set on a redirect hop whose host also has IPv4: the CA would still not use it. */
  let noFallback: string | undefined
  for (;;) {
    const t0 = performance.now()
    let got: Fetched
    try {
      got = await fetchOnce(undici, url, target, s)
    } catch (err) {
      const code = failureCode(err)
      hops.push({ url: url.href, address: target, ms: Math.round(performance.now() - t0) })
      const fix = noFallback !== undefined
        ? `${hostOf(url)} answers on IPv4 (${noFallback}) but not on its first IPv6 address ${target}, and on a redirect the CA does not fall back to IPv4: make ${hostOf(url)} answer on IPv6, or remove its AAAA record`
        : connectFix(code, target, portOf(url))
      return { ok: false, hops, error: code === 'TIMEOUT' ? 'timeout' : `connection failed: ${code ?? String(err)}`, fix }
    }
    hops.push({ url: url.href, address: target, status: got.status, ...(got.location === undefined ? {} : { location: got.location }), ...(got.server === undefined ? {} : { server: got.server }), ms: Math.round(performance.now() - t0) })
    if (got.status >= 300 && got.status < 400) {
      seen.push(url.href)
      const next = followRedirect(url, got.status, got.location, seen, s.httpPort, s.allowPrivate)
      if (!next.ok) return { ok: false, hops, error: next.error, fix: next.fix }
      url = next.url
      const host = hostOf(url)
      const addresses = isIP(host) !== 0 ? [host] : await s.resolve(host)
      const first = addresses[0]
      if (first === undefined) return { ok: false, hops, error: `redirect target ${host} does not resolve`, fix: `give ${host} an A or AAAA record` }
      // The CA resolves every hop again and refuses reserved addresses, whatever the name looks like.
      if (!s.allowPrivate && !isPublicAddress(first)) {
        return { ok: false, hops, error: `redirect target ${host} resolves to the private address ${first}`, fix: 'the CA refuses to connect to private, loopback or reserved addresses: give the master a public address, or use --mode proxy (a lab: --allow-private)' }
      }
      // The CA dials the first AAAA (else the first A) of a redirect target, with no IPv4 fallback.
      target = first
      noFallback = isIP(first) === 6 ? addresses.find((a) => isIP(a) === 4) : undefined
      continue
    }
    const verdict = judgeAnswer(got.status, got.body, expected, got.contentType)
    const body = got.body.toString('utf8').slice(0, BOULDER_BODY_LIMIT)
    return verdict.ok ? { ok: true, hops, body } : { ok: false, hops, body, error: verdict.error, fix: verdict.fix }
  }
}
