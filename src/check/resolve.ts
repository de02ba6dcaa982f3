// Name resolution for check: --resolve overrides first, then DNS (AAAA and A), then the system resolver.
import { lookup, resolve4, resolve6 } from 'node:dns/promises'
import { isIP } from 'node:net'

export type Overrides = ReadonlyMap<string, readonly string[]>

/** Parses curl-style name:address values (the address may be an IPv6 literal, bracketed or not). */
export function parseResolve (values: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (const v of values) {
    const i = v.indexOf(':')
    const name = v.slice(0, i).toLowerCase()
    const address = v.slice(i + 1).replace(/^\[|\]$/g, '')
    if (i <= 0 || isIP(address) === 0) throw new Error(`invalid --resolve "${v}": must be name:address`)
    map.set(name, [...map.get(name) ?? [], address])
  }
  return map
}

/** Every address of a name, IPv6 first as the validator dials them. */
export async function addressesOf (name: string, overrides: Overrides): Promise<string[]> {
  const forced = overrides.get(name.toLowerCase())
  if (forced !== undefined) return [...forced].sort((a, b) => isIP(b) - isIP(a))
  if (isIP(name) !== 0) return [name]
  const [v6, v4] = await Promise.all([resolve6(name).catch(() => []), resolve4(name).catch(() => [])])
  if (v6.length + v4.length > 0) return [...v6, ...v4]
  // Names from /etc/hosts or a local resolver that DNS does not know.
  const all = await lookup(name, { all: true }).catch(() => [])
  return all.map((a) => a.address).sort((a, b) => isIP(b) - isIP(a))
}
