// Parses --listen values (ip:port, [ipv6]:port, :port) into the sockets to bind.
import { isIP } from 'node:net'
import { ConfigError } from './error.js'

export interface Listener {
  readonly host: string
  readonly port: number
  /** IPv6 sockets never take IPv4 traffic, so 0.0.0.0 and [::] can both be bound. */
  readonly ipv6Only: boolean
  /** The default [::] listener is skipped with a warning on hosts without IPv6. */
  readonly optional: boolean
}

function port (value: string, text: string, option: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new ConfigError(option, `"${value}" needs a port number`)
  const n = Number(text)
  if (n > 65_535) throw new ConfigError(option, `"${value}" has a port above 65535`)
  return n
}

/** One --listen value; ":port" (and the default ":80") gives both wildcard sockets. */
export function parseListen (value: string, option = 'listen'): Listener[] {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value)
  if (v6 !== null) {
    const host = v6[1] ?? ''
    if (isIP(host) !== 6) throw new ConfigError(option, `"${value}" has an invalid IPv6 address`)
    return [Object.freeze({ host, port: port(value, v6[2] ?? '', option), ipv6Only: true, optional: false })]
  }
  const colon = value.lastIndexOf(':')
  if (colon < 0) throw new ConfigError(option, `"${value}" must be ip:port, [ipv6]:port or :port`)
  const host = value.slice(0, colon)
  const p = port(value, value.slice(colon + 1), option)
  if (host === '') {
    return [
      Object.freeze({ host: '0.0.0.0', port: p, ipv6Only: false, optional: false }),
      Object.freeze({ host: '::', port: p, ipv6Only: true, optional: true })
    ]
  }
  if (isIP(host) !== 4) throw new ConfigError(option, `"${value}" must be ip:port, [ipv6]:port or :port`)
  return [Object.freeze({ host, port: p, ipv6Only: false, optional: false })]
}
