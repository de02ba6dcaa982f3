// The connection table: who holds which connection, and which one goes when a client or the host is full.
import type { Socket } from 'node:net'
import { clientKey } from './client-budget.js'

/**
 * Answers one connection may have waiting to go out. Browsers never pipeline and curl stopped; a client
 * with more than this many answers unsent is not reading them, and node:http would otherwise keep every
 * one (about 2,500 for a 64 KB read of tiny requests) until it does.
 */
export const MAX_QUEUED_ANSWERS = 32
/**
 * What the waiting answers of all connections together may hold. Past it, a connection that already has
 * an answer waiting gets no second one: it is closed. A connection with nothing waiting (the CA's, one
 * request each) is always answered.
 */
export const QUEUED_BUDGET = 32 * 1024 * 1024
/** A waiting answer's cost beyond its bytes: node:http's request and response objects. */
export const ANSWER_OVERHEAD = 2048

export interface TableLimits {
  readonly maxConnections: number
  readonly maxConnectionsPerClient: number
  /** The largest answer the responder sends (the maintenance page, a token): what one waiting answer may hold. */
  readonly answerBytes: number
}

interface Client {
  readonly key: string
  count: number
  /** Its connections that are not serving a request, the longest unused first (Set keeps insertion order). */
  readonly evictable: Set<Socket>
}

interface Entry {
  readonly client: Client
  /** Requests received whose answer has not yet been handed to the kernel: the connection is serving. */
  pending: number
  /** No request yet: drain() must close these itself (closeIdleConnections does not see them). */
  fresh: boolean
}

const ENTRY = Symbol('connection')
type Tracked = Socket & { [ENTRY]?: Entry | undefined }

/**
 * The connection a request came on, as admitted: for HTTPS, requests come on the TLSSocket and the table
 * admitted the TCP socket under it, which node keeps as `_parent` (lib/_tls_wrap.js; undocumented, there
 * since TLSSocket wraps sockets).
 */
const admitted = (s: Socket): Tracked => (s as Socket & { _parent?: Socket | null })._parent ?? s

/** Why a connection was closed by the table; the per-minute report counts each. */
export type CloseReason = 'per-client cap' | 'table full' | 'answers unread' | 'refused: every connection serving'

export interface ConnectionTable {
  /** A new connection: admitted, at the cost of the longest-unused evictable one when a cap is reached. */
  admit (socket: Socket): void
  /** A request arrived on it; false when the connection was closed instead (too many answers waiting). */
  request (socket: Socket): boolean
  /** One of its answers has been handed to the kernel. */
  answered (socket: Socket): void
  setLimits (l: TableLimits): void
  readonly size: number
  /** Connections that have not delivered a request yet. */
  fresh (): Socket[]
  /** The connections it closed since the last call (by reason, top client keys), or undefined if none. */
  report (): Record<string, unknown> | undefined
}

/** Client keys remembered for the report: the top ones are what an operator needs, not every address. */
const MAX_REPORTED = 1000
const SCAN_CLIENTS = 64

/** `closed` hears of every connection the table closes (the metrics' counter); none by default. */
export function createConnectionTable (initial: TableLimits, closed?: (reason: CloseReason) => void): ConnectionTable {
  let limits = initial
  const clients = new Map<string, Client>()
  /** Clients by how many connections they hold: the eviction prefers the top bucket. */
  const buckets = new Map<number, Set<Client>>()
  let top = 0
  let total = 0
  let waiting = 0
  const evicted = new Map<string, number>()
  let byReason: Record<string, number> = {}

  function recount (c: Client, n: number): void {
    buckets.get(c.count)?.delete(c)
    c.count = n
    if (n === 0) {
      clients.delete(c.key)
    } else {
      let b = buckets.get(n)
      if (b === undefined) buckets.set(n, b = new Set())
      b.add(c)
      if (n > top) top = n
    }
    while (top > 0 && (buckets.get(top)?.size ?? 0) === 0) buckets.delete(top--)
  }

  function remove (s: Tracked): void {
    const e = s[ENTRY]
    if (e === undefined) return
    s[ENTRY] = undefined
    waiting -= e.pending
    e.client.evictable.delete(s)
    total--
    recount(e.client, e.client.count - 1)
  }

  function onClose (this: Tracked): void { remove(this) }

  function close (s: Socket, reason: CloseReason, key: string): void {
    remove(s)
    // A client that does not read its answers leaves them in the kernel's send buffer; after a FIN the
    // kernel keeps the socket, orphaned, with them until the peer reads or it gives up: a reset drops them. The
    // others have nothing on their way and get a FIN: with a reset, a churning client came back faster
    // and the CA waited longer in the siege bench (one address, slowloris: p50 about 100 ms, not 6).
    if (reason === 'answers unread') s.resetAndDestroy()
    else s.destroy()
    byReason[reason] = (byReason[reason] ?? 0) + 1
    closed?.(reason)
    if (evicted.size < MAX_REPORTED || evicted.has(key)) evicted.set(key, (evicted.get(key) ?? 0) + 1)
  }

  /** The longest-unused connection that is not serving, of the client holding the most connections. */
  function victim (): Socket | undefined {
    let scanned = 0
    for (let n = top; n > 0; n--) {
      for (const c of buckets.get(n) ?? []) {
        const oldest = c.evictable.values().next()
        if (oldest.done !== true) return oldest.value
        // Every connection of this client is serving: look further, within a bound.
        if (++scanned >= SCAN_CLIENTS) return undefined
      }
    }
    return undefined
  }

  return {
    admit (socket: Tracked) {
      const key = clientKey(socket.remoteAddress)
      let c = clients.get(key)
      if (c === undefined) clients.set(key, c = { key, count: 0, evictable: new Set() })
      if (c.count >= limits.maxConnectionsPerClient || total >= limits.maxConnections) {
        // At its own cap, its own longest-unused connection pays, never someone else's.
        const own = c.count >= limits.maxConnectionsPerClient
        const v = own ? c.evictable.values().next().value : victim()
        if (v === undefined) {
          // Every connection that could go is serving a request: only then is the newcomer turned away.
          if (c.count === 0) clients.delete(key)
          close(socket, 'refused: every connection serving', key)
          return
        }
        const e = (v as Tracked)[ENTRY]
        close(v, own ? 'per-client cap' : 'table full', e?.client.key ?? key)
      }
      socket[ENTRY] = { client: c, pending: 0, fresh: true }
      c.evictable.add(socket)
      total++
      recount(c, c.count + 1)
      socket.on('close', onClose)
    },
    request (tlsOrTcp) {
      const socket = admitted(tlsOrTcp)
      const e = socket[ENTRY]
      if (e === undefined) return !socket.destroyed
      // A second answer waiting, past the budget, or too many: this client is not reading.
      if (e.pending >= MAX_QUEUED_ANSWERS || (e.pending > 0 && (waiting + 1) * (limits.answerBytes + ANSWER_OVERHEAD) > QUEUED_BUDGET)) {
        close(socket, 'answers unread', e.client.key)
        return false
      }
      e.fresh = false
      if (e.pending++ === 0) e.client.evictable.delete(socket)
      waiting++
      return true
    },
    answered (tlsOrTcp) {
      const socket = admitted(tlsOrTcp)
      const e = socket[ENTRY]
      if (e === undefined || e.pending === 0) return
      waiting--
      // Back at the end of the line: the longest unused goes first.
      if (--e.pending === 0 && !socket.destroyed) e.client.evictable.add(socket)
    },
    setLimits (l) { limits = l },
    get size () { return total },
    fresh () {
      const out: Socket[] = []
      for (const c of clients.values()) for (const s of c.evictable) if ((s as Tracked)[ENTRY]?.fresh === true) out.push(s)
      return out
    },
    report () {
      if (evicted.size === 0) return undefined
      const topClients = [...evicted].sort((a, b) => b[1] - a[1]).slice(0, 5)
      const out = { closed: byReason, topClients: Object.fromEntries(topClients), open: total }
      evicted.clear()
      byReason = {}
      return out
    }
  }
}
