// Who a client is (its address, /64, or network) and the rate budget (log lines) it is given.

/** An IPv6 address as its eight groups (hex, no leading zeros). */
function ipv6Groups (a: string): string[] {
  const [head = '', tail] = a.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t]
  return groups.map((g) => parseInt(g, 16).toString(16))
}

/** The address without a zone, lower-case, and an IPv4-mapped IPv6 address as the IPv4 it is. */
function plain (address: string): string {
  const a = address.replace(/%.*$/, '').toLowerCase()
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)?.[1] ?? a
}

/**
 * The key a client is counted under: its IPv4 address, or the /64 of its IPv6 address (one host
 * usually holds a whole /64, so counting single IPv6 addresses would let it take 2^64 budgets).
 */
export function clientKey (address: string | undefined): string {
  if (address === undefined) return '?'
  // Most clients, and every new connection's key: no copy, no regex.
  if (!address.includes(':')) return address
  const a = plain(address)
  return a.includes(':') ? ipv6Groups(a).slice(0, 4).join(':') + '::/64' : a
}

/**
 * The network above a client: an IPv4 /24, an IPv6 /48 (what a site is given: 65,536 /64s). Fairness
 * between networks keeps one site's many clients from outweighing everyone else.
 */
export function networkKey (address: string | undefined): string {
  if (address === undefined) return '?'
  const a = plain(address)
  if (a.includes(':')) return ipv6Groups(a).slice(0, 3).join(':') + '::/48'
  return a.split('.').slice(0, 3).join('.') + '.0/24'
}

export interface Rate { readonly burst: number, readonly perSecond: number }

interface Bucket { tokens: number, at: number }

function refill (b: Bucket, r: Rate, now: number): void {
  b.tokens = Math.min(r.burst, b.tokens + (now - b.at) / 1000 * r.perSecond)
  b.at = now
}

export interface RateBudget {
  /** Takes one unit for the client; false when the client or everyone together is over budget. */
  take (client: string, now?: number): boolean
}

/** Token buckets per client and one for all; at most maxClients are remembered (oldest forgotten). */
export function createRateBudget (perClient: Rate, all: Rate, maxClients = 10_000): RateBudget {
  const clients = new Map<string, Bucket>()
  const global: Bucket = { tokens: all.burst, at: Date.now() }
  return {
    take (client, now = Date.now()) {
      let b = clients.get(client)
      if (b === undefined) {
        if (clients.size >= maxClients) clients.delete(clients.keys().next().value as string)
        b = { tokens: perClient.burst, at: now }
        clients.set(client, b)
      } else refill(b, perClient, now)
      refill(global, all, now)
      if (b.tokens < 1 || global.tokens < 1) return false
      b.tokens--
      global.tokens--
      return true
    }
  }
}
