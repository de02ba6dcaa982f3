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
  /** Its connections, the longest unused first: a Set keeps insertion order, and an answer sent moves one to the end. */
  readonly conns: Set<Socket>
}

/**
 * What the table keeps on a socket: its client and its answers not yet handed to the kernel (two fields;
 * a Map from socket to state instead cost 2-3 % of the maintenance page's rate). No 'close' listener:
 * node:http's own per-answer one grows a second one's array to 19 slots, kept (205 bytes a connection).
 * Closed sockets are found by `destroyed` instead, where the table meets them and once a second.
 */
const CLIENT = Symbol('client')
const PENDING = Symbol('pending')
type Tracked = Socket & { [CLIENT]?: Client | undefined, [PENDING]?: number }

/**
 * The connection a request came on, as admitted: for HTTPS, requests come on the TLSSocket and the table
 * admitted the TCP socket under it, which node keeps as `_parent` (lib/_tls_wrap.js; undocumented, there
 * since TLSSocket wraps sockets).
 */
const admitted = (s: Socket): Tracked => (s as Socket & { _parent?: Socket | null })._parent ?? s

/** Why a connection was closed by the table; the per-minute report counts each. */
export type CloseReason = 'per-client cap' | 'table full' | 'answers unread' | 'refused: every connection serving'

export interface ConnectionTable {
  /** A new connection: admitted, at the cost of the longest-unused one not serving when a cap is reached. */
  admit (socket: Socket): void
  /** A request arrived on it; false when the connection was closed instead (too many answers waiting). */
  request (socket: Socket): boolean
  /** One of its answers has been handed to the kernel. */
  answered (socket: Socket): void
  setLimits (l: TableLimits): void
  /** Forgets the connections that have closed since it last looked (the shell calls it once a second). */
  sweep (): void
  /** Connections open now. */
  open (): number
  /** Open connections not serving a request: idle between requests, or not one delivered yet (the drain closes them). */
  notServing (): Socket[]
  /** The connections it closed since the last call (by reason, top client keys), or undefined if none. */
  report (): Record<string, unknown> | undefined
}

/** Client keys remembered for the report: the top ones are what an operator needs, not every address. */
const MAX_REPORTED = 1000
/** How far an eviction looks when the longest-unused connections are all serving: bounded work per newcomer. */
const SCAN_CLIENTS = 64
const SCAN_CONNECTIONS = 32

/** `closed` hears of every connection the table closes (the metrics' counter); none by default. */
export function createConnectionTable (initial: TableLimits, closed?: (reason: CloseReason) => void): ConnectionTable {
  let limits = initial
  const clients = new Map<string, Client>()
  /** Clients by how many connections they hold: the eviction prefers the top bucket. */
  const buckets = new Map<number, Set<Client>>()
  let top = 0
  let total = 0
  /** Answers of all connections not yet handed to the kernel. */
  let waiting = 0
  const evicted = new Map<string, number>()
  let byReason: Record<string, number> = {}

  /** Moves a client whose connection count was `before` to the bucket of its count now. */
  function recount (c: Client, before: number): void {
    const n = c.conns.size
    buckets.get(before)?.delete(c)
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

  function forget (s: Tracked): void {
    const c = s[CLIENT]
    // Not held (never admitted, or forgotten already): nothing to count down.
    if (c === undefined || !c.conns.delete(s)) return
    s[CLIENT] = undefined
    waiting -= s[PENDING] ?? 0
    s[PENDING] = 0
    total--
    recount(c, c.conns.size + 1)
  }

  const serving = (s: Tracked): boolean => (s[PENDING] ?? 0) > 0

  function sweepClient (c: Client): void {
    // Deleting the entry being visited is safe in a Set's iteration.
    for (const s of c.conns) if (s.destroyed) forget(s)
  }

  /** `key` names the client in the report: the one the socket was admitted for, unless it never was. */
  function close (s: Tracked, reason: CloseReason, key = s[CLIENT]?.key ?? '?'): void {
    forget(s)
    // A client that does not read its answers leaves them in the kernel's send buffer; after a FIN the
    // kernel keeps the socket, orphaned, with them until the peer reads or it gives up: a reset drops
    // them. The others have nothing on their way and get a FIN: with a reset, a churning client came
    // back faster and the CA waited longer in the siege bench (one address, slowloris: p50 about 100 ms,
    // not 6).
    if (reason === 'answers unread') s.resetAndDestroy()
    else s.destroy()
    byReason[reason] = (byReason[reason] ?? 0) + 1
    closed?.(reason)
    if (evicted.size < MAX_REPORTED || evicted.has(key)) evicted.set(key, (evicted.get(key) ?? 0) + 1)
  }

  /** The client's longest-unused connection not serving, forgetting closed ones met on the way. */
  function oldestIdle (c: Client): Socket | undefined {
    let looked = 0
    for (const s of c.conns) {
      if (s.destroyed) forget(s)
      else if (!serving(s)) return s
      else if (++looked >= SCAN_CONNECTIONS) return undefined
    }
    return undefined
  }

  /** The longest-unused connection not serving, of the client holding the most connections. */
  function victim (): Socket | undefined {
    let scanned = 0
    for (let n = top; n > 0; n--) {
      for (const c of buckets.get(n) ?? []) {
        const oldest = oldestIdle(c)
        if (oldest !== undefined) return oldest
        // Closed ones forgotten on the way may have made the room already.
        if (total < limits.maxConnections) return undefined
        // Every connection this client holds is serving: look further, within a bound.
        if (++scanned >= SCAN_CLIENTS) return undefined
      }
    }
    return undefined
  }

  function sweep (): void {
    for (const c of clients.values()) sweepClient(c)
  }

  return {
    admit (socket: Tracked) {
      const key = clientKey(socket.remoteAddress)
      let c = clients.get(key)
      if (c === undefined) clients.set(key, c = { key, conns: new Set() })
      // At its own cap, its own longest-unused connection pays, never someone else's.
      if (c.conns.size >= limits.maxConnectionsPerClient) sweepClient(c)
      const own = c.conns.size >= limits.maxConnectionsPerClient
      if (own || total >= limits.maxConnections) {
        const v = own ? oldestIdle(c) : victim()
        if (v !== undefined) {
          close(v, own ? 'per-client cap' : 'table full')
        } else if (own || total >= limits.maxConnections) {
          // Still full (closed ones the search forgot can make the room): every connection that could go
          // is serving a request, and only then is the newcomer turned away.
          if (c.conns.size === 0) clients.delete(key)
          close(socket, 'refused: every connection serving', key)
          return
        }
      }
      // The connection closed to make room may have been this client's last: it is back in the map.
      if (c.conns.size === 0) clients.set(key, c)
      socket[CLIENT] = c
      socket[PENDING] = 0
      c.conns.add(socket)
      total++
      recount(c, c.conns.size - 1)
    },
    request (tlsOrTcp) {
      const socket = admitted(tlsOrTcp)
      const c = socket[CLIENT]
      if (c === undefined) return !socket.destroyed
      const pending = socket[PENDING] ?? 0
      // A second answer waiting, past the budget, or too many: this client is not reading.
      if (pending >= MAX_QUEUED_ANSWERS || (pending > 0 && (waiting + 1) * (limits.answerBytes + ANSWER_OVERHEAD) > QUEUED_BUDGET)) {
        close(socket, 'answers unread')
        return false
      }
      socket[PENDING] = pending + 1
      waiting++
      return true
    },
    answered (tlsOrTcp) {
      const socket = admitted(tlsOrTcp)
      const c = socket[CLIENT]
      const pending = socket[PENDING] ?? 0
      if (c === undefined || pending === 0) return
      waiting--
      socket[PENDING] = pending - 1
      // Back at the end of the line: the longest unused goes first.
      if (pending === 1 && !socket.destroyed && c.conns.delete(socket)) c.conns.add(socket)
    },
    setLimits (l) { limits = l },
    sweep,
    open () {
      sweep()
      return total
    },
    notServing () {
      sweep()
      const out: Socket[] = []
      for (const c of clients.values()) for (const s of c.conns) if (!serving(s)) out.push(s)
      return out
    },
    report () {
      if (evicted.size === 0) return undefined
      sweep()
      const topClients = [...evicted].sort((a, b) => b[1] - a[1]).slice(0, 5)
      const out = { closed: byReason, topClients: Object.fromEntries(topClients), open: total }
      evicted.clear()
      byReason = {}
      return out
    }
  }
}
