// One summary line per validation: every request for a token, gathered until they stop, then logged once.
import type { Logger } from 'pino'
import { clientKey, createRateBudget, networkKey } from './client-budget.js'
import { clip, tokenFields } from './log-line.js'

/** What one challenge request was answered with, as the summary counts it. */
export interface Answered {
  readonly token: string
  readonly address: string | undefined
  readonly host: string | undefined
  readonly status: number
  readonly outcome: string
  /** Proxy mode: the master that answered. */
  readonly master?: string | undefined
}

/** The requests of a token stop for this long: the validation (or this try of it) is over. */
export const QUIET_MS = 3000
/** Tokens followed at once: the memory bound whatever a flood of random tokens does. */
export const MAX_TRACKED = 1024
/** Tokens one client may have followed that no one else asked for: a flood from one address stays its own. */
export const PER_CLIENT = 16
/** A list in a line (addresses, Host values, masters) holds at most this many. */
const LIST_MAX = 8
/** Distinct addresses counted per token (a CA has a handful; past this the count says "at least"). */
const ADDRESSES_MAX = 64
/**
 * Summaries with fewer than 3 addresses (a flood's tokens look like that, and so does a single-perspective
 * CA) are budgeted; Let's Encrypt asks from at least 3 (a primary and 2+ remote perspectives): always logged.
 */
const SUMMARIES = { burst: 100, perSecond: 10 }
const ALWAYS_FROM = 3

/** The outcomes a CA's validation succeeds with. */
const GOOD = new Set(['served', 'redirected', 'proxied', 'stateless'])

interface Tracked {
  readonly token: string
  /** The client that asked first: the token counts against its share until another client asks. */
  readonly owner: string
  readonly ownerAddress: string | undefined
  readonly first: number
  last: number
  requests: number
  readonly addresses: Set<string>
  readonly networks: Set<string>
  readonly statuses: Record<string, number>
  readonly outcomes: Record<string, number>
  readonly hosts: Set<string>
  readonly masters: Set<string>
  shared: boolean
}

export interface Validations {
  record (a: Answered, now?: number): void
  /** Writes the summaries of the tokens that have gone quiet (all of them with `all`). */
  flush (all?: boolean, now?: number): void
}

const add = (set: Set<string>, v: string | undefined): void => { if (v !== undefined && set.size < LIST_MAX) set.add(v) }
const bump = (o: Record<string, number>, k: string): void => { o[k] = (o[k] ?? 0) + 1 }

/** `dropped` is told of each token that goes unsummarised (a flood's: the table was full, or the lines' budget spent). */
export function createValidations (log: () => Logger, dropped: (why: string) => void, written?: (ok: boolean) => void): Validations {
  const tracked = new Map<string, Tracked>()
  /** Per client, its unshared tokens, oldest first. */
  const owned = new Map<string, Set<Tracked>>()
  const budget = createRateBudget(SUMMARIES, SUMMARIES)

  /** The token no longer counts against its first client's share. */
  function disown (t: Tracked): void {
    const mine = owned.get(t.owner)
    mine?.delete(t)
    if (mine?.size === 0) owned.delete(t.owner)
  }

  function forget (t: Tracked): void {
    tracked.delete(t.token)
    disown(t)
  }

  /** Room for one more: the oldest unshared token of the client holding most goes; else the oldest of all. */
  function makeRoom (client: string): void {
    const mine = owned.get(client)
    let victim = mine !== undefined && mine.size >= PER_CLIENT ? mine.values().next().value : undefined
    if (victim === undefined && tracked.size >= MAX_TRACKED) {
      let most: Set<Tracked> | undefined
      for (const s of owned.values()) if (most === undefined || s.size > most.size) most = s
      victim = most?.values().next().value ?? tracked.values().next().value
    }
    if (victim === undefined) return
    forget(victim)
    dropped('validation not summarised (too many tokens at once)')
  }

  function write (t: Tracked): void {
    const failed = Object.keys(t.outcomes).filter((o) => !GOOD.has(o))
    if (t.addresses.size < ALWAYS_FROM && !budget.take('summaries')) {
      dropped('validation not summarised (over the log budget)')
      return
    }
    const fields = {
      ...tokenFields(t.token),
      requests: t.requests,
      addresses: t.addresses.size,
      networks: t.networks.size,
      from: [...t.addresses].slice(0, LIST_MAX),
      first: new Date(t.first).toISOString(),
      spanMs: t.last - t.first,
      statuses: t.statuses,
      outcomes: t.outcomes,
      hosts: [...t.hosts],
      ...t.masters.size > 0 ? { masters: [...t.masters] } : {}
    }
    written?.(failed.length === 0)
    if (failed.length === 0) log().info(fields, 'validation')
    else log().warn(fields, `validation: not what the CA needs (${failed.map((o) => `${o} ×${t.outcomes[o] ?? 0}`).join(', ')})`)
  }

  return {
    record (a, now = Date.now()) {
      let t = tracked.get(a.token)
      if (t === undefined) {
        const client = clientKey(a.address)
        makeRoom(client)
        t = { token: a.token, owner: client, ownerAddress: a.address, first: now, last: now, requests: 0, addresses: new Set(), networks: new Set(), statuses: {}, outcomes: {}, hosts: new Set(), masters: new Set(), shared: false }
        tracked.set(a.token, t)
        let mine = owned.get(client)
        if (mine === undefined) owned.set(client, mine = new Set())
        mine.add(t)
      } else if (!t.shared && a.address !== t.ownerAddress && clientKey(a.address) !== t.owner) {
        // Asked by a second client: no longer one client's to lose.
        t.shared = true
        disown(t)
      }
      t.last = now
      t.requests++
      // Keyed work only for an address not seen yet: the same client asking again costs two lookups.
      if (a.address !== undefined && !t.addresses.has(a.address) && t.addresses.size < ADDRESSES_MAX) {
        t.addresses.add(a.address)
        t.networks.add(networkKey(a.address))
      }
      if (a.host !== undefined && !t.hosts.has(a.host)) add(t.hosts, clip(a.host))
      add(t.masters, a.master)
      bump(t.statuses, String(a.status))
      bump(t.outcomes, a.outcome)
    },
    flush (all = false, now = Date.now()) {
      for (const t of tracked.values()) {
        if (!all && now - t.last < QUIET_MS) continue
        forget(t)
        write(t)
      }
    }
  }
}
