// What Let's Encrypt's validator accepts, as pure functions: redirects, addresses, bodies, and fixes.
import { createRequire } from 'node:module'
import { BlockList, isIP } from 'node:net'
import { BOULDER_BODY_LIMIT } from '../core/outcome.js'

/** Boulder follows only these; 303 is refused. */
export const REDIRECT_STATUSES = new Set([301, 302, 307, 308])
export const MAX_REDIRECTS = 10
const MAX_PATH = 2000

const reserved = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) reserved.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]
] as const) reserved.addSubnet(net, bits, 'ipv6')

/** IANA's root zone (the npm package tlds): Boulder refuses a redirect to a name outside it. */
const TLDS = new Set(createRequire(import.meta.url)('tlds') as string[])
/** RFC 6761 special-use names: never delegated, so no real CA validates them; lab setups use them. */
const SPECIAL_USE = new Set(['test', 'example', 'invalid', 'localhost'])

/** Why the CA would refuse a redirect to this host name (not an IP literal), or undefined. */
export function nameProblem (host: string): string | undefined {
  const tld = host.replace(/\.$/, '').split('.').at(-1)?.toLowerCase() ?? ''
  if (TLDS.has(tld) || SPECIAL_USE.has(tld)) return undefined
  return `.${tld} is not a top-level domain of the public DNS`
}

/** The way out when the CA cannot reach a name over HTTP at all: a DNS challenge. */
export function dnsAlternative (name: string): string {
  return `or validate ${name} with DNS-01 (a TXT record _acme-challenge.${name} per order) or dns-persist-01 (one static TXT record _validation-persist.${name}, bound to the ACME account)`
}

export function isPublicAddress (address: string): boolean {
  // IPv4-mapped IPv6 is judged by its IPv4 address (a ::ffff:0:0/96 rule would also catch every IPv4).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined) return isPublicAddress(mapped[1])
  const family = isIP(address)
  if (family === 0) return false
  return !reserved.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** The port a URL connects to. */
export function portOf (url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
}

/** The URL's host without the brackets of an IPv6 literal. */
export function hostOf (url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '')
}

export type HopRule = { readonly ok: true, readonly url: URL } | { readonly ok: false, readonly error: string, readonly fix: string }

/** Decides whether the validator would follow this redirect, and where to. */
export function followRedirect (from: URL, status: number, location: string | undefined, seen: readonly string[], httpPort: number, allowPrivate = false): HopRule {
  if (!REDIRECT_STATUSES.has(status)) {
    return { ok: false, error: `redirect with ${status}`, fix: `answer with 301, 302, 307 or 308: Let's Encrypt does not follow a ${status}` }
  }
  if (location === undefined || location === '') return { ok: false, error: `${status} without a Location`, fix: 'send a Location header with the redirect' }
  let url: URL
  try {
    url = new URL(location, from)
  } catch {
    return { ok: false, error: `unparseable Location ${location}`, fix: 'send an absolute http:// or https:// Location' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `redirect to ${url.protocol} URL`, fix: 'redirect only to http:// or https://' }
  const port = portOf(url)
  if (port !== httpPort && port !== 443) return { ok: false, error: `redirect to port ${port}`, fix: 'Let\'s Encrypt follows redirects only to ports 80 and 443' }
  const host = hostOf(url)
  if (host.endsWith('.well-known')) return { ok: false, error: `redirect to host ${host}`, fix: 'the Location lacks the "/" after the host name' }
  if (isIP(host) !== 0 && !allowPrivate && !isPublicAddress(host)) {
    return { ok: false, error: `redirect to the private address ${host}`, fix: 'the CA refuses private addresses: point --master at a public name, or use --mode proxy' }
  }
  const badName = isIP(host) === 0 ? nameProblem(host) : undefined
  if (badName !== undefined) {
    return { ok: false, error: `redirect to ${host}: ${badName}`, fix: 'the CA follows redirects only to names under a public top-level domain: point --master at such a name, or use --mode proxy (the CA then never sees the master)' }
  }
  if (url.pathname.length > MAX_PATH) return { ok: false, error: 'redirect path over 2000 bytes', fix: 'shorten the Location path' }
  if (seen.length > MAX_REDIRECTS) return { ok: false, error: `more than ${MAX_REDIRECTS} redirects`, fix: 'redirect once, straight to the master' }
  if (seen.includes(url.href)) return { ok: false, error: 'redirect loop', fix: 'the master must serve the token itself: give it --alias names for its Host, or check its --master' }
  return { ok: true, url }
}

export type BodyRule = { readonly ok: true } | { readonly ok: false, readonly error: string, readonly fix: string }

/** Status 200 and the key authorization, after trimming the trailing whitespace Pebble also trims. */
export function judgeAnswer (status: number, body: Buffer, expected: string, contentType: string | undefined): BodyRule {
  const text = body.toString('utf8')
  if (status !== 200) {
    if (status === 503 && /html/i.test(contentType ?? '')) {
      return { ok: false, error: 'maintenance page instead of the token', fix: 'the request reached a maintenance page, not the challenge path: check the web server\'s Alias/redirect for /.well-known/acme-challenge/' }
    }
    if (status === 404) {
      return { ok: false, error: 'token not found (404)', fix: 'the host that answered has no token and no master: give it --master <the master>, or put the probe in the directory the master serves' }
    }
    return { ok: false, error: `status ${status}`, fix: 'only status 200 passes at Let\'s Encrypt and Pebble' }
  }
  if (body.length >= BOULDER_BODY_LIMIT) return { ok: false, error: `body of ${body.length} bytes or more`, fix: `the CA fails bodies of ${BOULDER_BODY_LIMIT} bytes or more: the token file must hold only the key authorization` }
  const trimmed = text.replace(/[\r\n\t]+$/, '')
  if (trimmed === expected) return { ok: true }
  if (trimmed.trimEnd() === expected) return { ok: false, error: 'body ends in spaces', fix: 'Pebble does not trim trailing spaces: write the key authorization without them' }
  return { ok: false, error: 'body does not match the key authorization', fix: 'another token or another account answered: is the probe in the directory the master serves?' }
}

export function connectFix (code: string | undefined, address: string, port: number): string {
  switch (code) {
    case 'ECONNREFUSED': return `nothing listens on port ${port} at ${address}: start acme-responder there (or check its --listen)`
    case 'TIMEOUT': return `no answer from ${address}:${port} in time: a firewall drops port ${port}?`
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `${address} is unreachable from here: check routing and firewall`
    default: return `the connection to ${address}:${port} failed (${code ?? 'unknown error'})`
  }
}
