// What one client may make the process do: a rate budget (log lines) and an in-flight cap (upstream fetches).

/**
 * The key a client is counted under: its IPv4 address, or the /64 of its IPv6 address (one host
 * usually holds a whole /64, so counting single IPv6 addresses would let it take 2^64 budgets).
 */
export function clientKey (address: string | undefined): string {
  if (address === undefined) return '?'
  const a = address.replace(/%.*$/, '').toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)
  if (mapped?.[1] !== undefined) return mapped[1]
  if (!a.includes(':')) return a
  const [head = '', tail] = a.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t]
  return groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':') + '::/64'
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

export interface InFlight {
  /** Counts one more for the client; false (and nothing counted) when it is at its cap. */
  enter (client: string): boolean
  leave (client: string): void
}

/** Per-client concurrency; the map holds only clients with something in flight. */
export function createInFlight (perClient: number, total: number): InFlight {
  const counts = new Map<string, number>()
  let sum = 0
  return {
    enter (client) {
      const n = counts.get(client) ?? 0
      if (n >= perClient || sum >= total) return false
      counts.set(client, n + 1)
      sum++
      return true
    },
    leave (client) {
      const n = counts.get(client) ?? 0
      if (n <= 1) counts.delete(client)
      else counts.set(client, n - 1)
      if (n > 0) sum--
    }
  }
}
