// Host header parsing and normalisation: case, port and trailing dot never decide who we are.
import { isIP } from 'node:net'

const NAME = /^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$/

/**
 * Lower-cases a host name and drops one trailing dot; IPv6 literals keep their brackets.
 * Returns undefined for anything that is not a host name or an IP literal.
 */
export function normalizeHostName (name: string): string | undefined {
  if (name.startsWith('[') && name.endsWith(']')) {
    const inner = name.slice(1, -1).toLowerCase()
    return isIP(inner) === 6 ? `[${inner}]` : undefined
  }
  const lower = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase()
  if (lower.length === 0 || lower.length > 253) return undefined
  return NAME.test(lower) || isIP(lower) === 4 ? lower : undefined
}

/**
 * Host values already parsed, and their results: a memo of a pure function, so the answers stay those
 * of parseHost. Bounded in entries and in key length (a name of 253 characters with a port fits).
 */
const seen = new Map<string, string | undefined>()
const SEEN_MAX = 256
const SEEN_VALUE_MAX = 260
let last: { readonly value: string, readonly host: string | undefined } = { value: '', host: undefined }

/**
 * Parses a Host header value (host[:port]); undefined when it is not valid. A trailing dot is
 * tolerated on the name and, as some clients send it, after the port.
 */
export function parseHostHeader (value: string): string | undefined {
  // Most often the value is the last one again: comparing it costs less than hashing it for the memo.
  if (value === last.value) return last.host
  // Clients send the same few Host values over and over: remember the answers, within a bound.
  if (value.length > SEEN_VALUE_MAX) return parseHost(value)
  let host = seen.get(value)
  if (host === undefined && !seen.has(value)) {
    host = parseHost(value)
    // Random Host values (a flood) cannot grow it: it starts over when full.
    if (seen.size >= SEEN_MAX) seen.clear()
    seen.set(value, host)
  }
  last = { value, host }
  return host
}

function parseHost (value: string): string | undefined {
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{0,5}))?$/.exec(value.endsWith('.') ? value.slice(0, -1) : value)
  if (m === null) return undefined
  if (m[2] !== undefined && m[2] !== '' && Number(m[2]) > 65_535) return undefined
  return normalizeHostName(m[1] ?? '')
}
