// One validation the way the CA's validator does it: GET on one address, following redirects by its rules.
import type { Dispatcher } from 'undici'
import { CHALLENGE_PREFIX } from '../target.js'
import { connectFix, followRedirect, judgeAnswer, MAX_BODY } from './rules.js'

export interface Hop {
  readonly url: string
  readonly address: string
  readonly status?: number
  readonly location?: string
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
}

interface Fetched { status: number, location: string | undefined, contentType: string | undefined, body: Buffer }

type Undici = typeof import('undici')

async function readSome (body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of body) {
    chunks.push(c as Buffer)
    size += (c as Buffer).length
    if (size > MAX_BODY) break
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY + 1)
}

/** One hop on a connection of its own (the validator disables keep-alive), certificate errors ignored. */
async function fetchOnce (undici: Undici, url: URL, address: string, s: ProbeSettings): Promise<Fetched> {
  const https = url.protocol === 'https:'
  const port = url.port === '' ? (https ? 443 : 80) : Number(url.port)
  const origin = `${url.protocol}//${address.includes(':') ? `[${address}]` : address}:${port}`
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
    const location = res.headers.location
    const contentType = res.headers['content-type']
    return {
      status: res.statusCode,
      location: Array.isArray(location) ? location[0] : location,
      contentType: Array.isArray(contentType) ? contentType[0] : contentType,
      body: await readSome(res.body)
    }
  } finally {
    client.destroy().catch(() => {})
  }
}

function errorCode (err: unknown): string | undefined {
  const e = err as { code?: string, name?: string, cause?: { code?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(e.code ?? '')) return 'TIMEOUT'
  return e.cause?.code ?? e.code
}

export async function probe (undici: Undici, name: string, address: string, token: string, expected: string, s: ProbeSettings): Promise<ProbeResult> {
  const hops: Hop[] = []
  const seen: string[] = []
  let url = new URL(`http://${name}${s.httpPort === 80 ? '' : `:${s.httpPort}`}${CHALLENGE_PREFIX}/${token}`)
  let target = address
  for (;;) {
    const t0 = performance.now()
    let got: Fetched
    try {
      got = await fetchOnce(undici, url, target, s)
    } catch (err) {
      const code = errorCode(err)
      hops.push({ url: url.href, address: target, ms: Math.round(performance.now() - t0) })
      const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
      return { ok: false, hops, error: code === 'TIMEOUT' ? 'timeout' : `connection failed: ${code ?? String(err)}`, fix: connectFix(code, target, port) }
    }
    hops.push({ url: url.href, address: target, status: got.status, ...(got.location === undefined ? {} : { location: got.location }), ms: Math.round(performance.now() - t0) })
    if (got.status >= 300 && got.status < 400) {
      seen.push(url.href)
      const next = followRedirect(url, got.status, got.location, seen, s.httpPort)
      if (!next.ok) return { ok: false, hops, error: next.error, fix: next.fix }
      url = next.url
      const host = url.hostname.replace(/^\[|\]$/g, '')
      const addresses = /^[\d.]+$|:/.test(host) ? [host] : await s.resolve(host)
      const first = addresses[0]
      if (first === undefined) return { ok: false, hops, error: `redirect target ${host} does not resolve`, fix: `give ${host} an A or AAAA record` }
      target = first
      continue
    }
    const verdict = judgeAnswer(got.status, got.body, expected, got.contentType)
    const body = got.body.toString('utf8').slice(0, MAX_BODY)
    return verdict.ok ? { ok: true, hops, body } : { ok: false, hops, body, error: verdict.error, fix: verdict.fix }
  }
}
