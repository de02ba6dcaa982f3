// The core's second step: what a decision, a token lookup and a proxy fetch turn into. Pure: no I/O.
import type { Decision } from './decide.js'

/** Boulder reads at most 128 bytes and fails a body of that size or more (check uses it too). */
export const BOULDER_BODY_LIMIT = 128

/** What looking for the token file found. */
export type Lookup =
  | { readonly kind: 'found', readonly body: Buffer }
  | { readonly kind: 'missing' }
  | { readonly kind: 'unusable', readonly file: string, readonly why: string }

export interface Try { readonly master: string, readonly ms: number, readonly result: string }

/** What asking the masters gave (proxy mode). */
export type Fetch =
  | { readonly kind: 'found', readonly body: Buffer, readonly master: string, readonly tries: readonly Try[] }
  | { readonly kind: 'not-found' | 'unreachable', readonly tries: readonly Try[] }
  /** The client already has its share of fetches in flight: nothing was fetched for it. */
  | { readonly kind: 'busy' }

/** The fixed answers, built once per configuration by the shell. */
export type Fixed = 'maintenance' | 'badRequest' | 'methodNotAllowed' | 'invalidToken' | 'notFound' | 'unusable' | 'badGateway' | 'tooMany'

export type Reply =
  | { readonly kind: 'fixed', readonly name: Fixed }
  | { readonly kind: 'token', readonly body: Buffer }
  | { readonly kind: 'redirect', readonly location: string }

export interface Outcome {
  /** The log's name for what happened. */
  readonly outcome: string
  readonly reply: Reply
  /**
   * 'line': one log line (challenge requests); 'count': counted in the per-minute summary only
   * (maintenance hits and bad requests: when Apache is down they are the whole web traffic).
   */
  readonly log: 'line' | 'count'
  /** Above info when the operator must act (an unusable file, a failing master). */
  readonly level: 'info' | 'warn' | 'error'
  readonly msg: string
  readonly detail?: Readonly<Record<string, unknown>>
}

export type Challenge = Extract<Decision, { kind: 'challenge' }>

const fixed = (outcome: string, name: Fixed, log: 'line' | 'count' = 'line'): Outcome =>
  Object.freeze({ outcome, reply: Object.freeze({ kind: 'fixed', name }), log, level: 'info', msg: 'challenge request' })

// The same for every request: built once (the maintenance page is all the traffic when Apache is down).
const SETTLED = {
  maintenance: fixed('maintenance', 'maintenance', 'count'),
  'bad-request': fixed('bad-request', 'badRequest', 'count'),
  'method-not-allowed': fixed('method-not-allowed', 'methodNotAllowed'),
  'invalid-token': fixed('invalid-token', 'invalidToken')
} as const

/** Step 1: a decision that needs no lookup is already an outcome. */
export function settled (d: Exclude<Decision, Challenge>): Outcome {
  return SETTLED[d.kind]
}

/** Step 2: the lookup's result; 'proxy' when the masters must be asked (then step 3). */
export function afterLookup (d: Challenge, read: Lookup): Outcome | 'proxy' {
  if (read.kind === 'found') {
    const big = read.body.length >= BOULDER_BODY_LIMIT
    return {
      outcome: 'served',
      reply: { kind: 'token', body: read.body },
      log: 'line',
      level: big ? 'warn' : 'info',
      msg: big ? `token file is ${read.body.length} bytes: Boulder rejects bodies of ${BOULDER_BODY_LIMIT} bytes or more` : 'challenge request',
      ...big ? { detail: { bytes: read.body.length } } : {}
    }
  }
  if (read.kind === 'unusable') {
    return { ...fixed('unusable', 'unusable'), level: 'error', msg: `refusing token file ${read.file}: it ${read.why}`, detail: { file: read.file, why: read.why } }
  }
  const fb = d.fallback
  switch (fb.kind) {
    case 'redirect': return { outcome: 'redirected', reply: fb, log: 'line', level: 'info', msg: 'challenge request', detail: { location: fb.location } }
    case 'stateless': return { outcome: 'stateless', reply: { kind: 'token', body: Buffer.from(fb.body) }, log: 'line', level: 'info', msg: 'challenge request' }
    case 'not-found': return fixed('not-found', 'notFound')
    case 'proxy': return 'proxy'
  }
}

/** Step 3 (proxy mode): the masters' answer. Any failed master is worth a warning. */
export function afterFetch (r: Fetch): Outcome {
  if (r.kind === 'busy') return fixed('too-many', 'tooMany')
  const failed = r.tries.filter((t) => t.result !== '200' && t.result !== '404')
  const loud = failed.length > 0 ? { level: 'warn' as const, msg: failed.map((t) => `master ${t.master} failed: ${t.result}`).join('; ') } : {}
  if (r.kind === 'found') return { outcome: 'proxied', reply: { kind: 'token', body: r.body }, log: 'line', level: 'info', msg: 'challenge request', detail: { master: r.master, tries: r.tries }, ...loud }
  // A master that failed may hold the token, so only a unanimous 404 is a 404.
  if (r.kind === 'not-found') return { ...fixed('not-found', 'notFound'), detail: { tries: r.tries } }
  return { ...fixed('unreachable', 'badGateway'), detail: { tries: r.tries }, ...loud }
}
