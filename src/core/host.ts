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
 * Parses a Host header value (host[:port]); undefined when it is not valid. A trailing dot is
 * tolerated on the name and, as some clients send it, after the port.
 */
export function parseHostHeader (value: string): string | undefined {
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{0,5}))?$/.exec(value.endsWith('.') ? value.slice(0, -1) : value)
  if (m === null) return undefined
  if (m[2] !== undefined && m[2] !== '' && Number(m[2]) > 65_535) return undefined
  return normalizeHostName(m[1] ?? '')
}
