// The functional core: decides, from request facts and the configured policy alone, what to answer.
import type { Config, Master, Mode } from '../config/config.js'
import { parseHostHeader } from './host.js'
import { CHALLENGE_PREFIX, parseTarget } from './target.js'

export interface RequestFacts {
  readonly method: string
  /** The request target exactly as received. */
  readonly target: string
  /** Every Host header the request carried, in order. */
  readonly hostHeaders: readonly string[]
  readonly httpVersion: string
  /** The request came through another responder (the loop-guard header). */
  readonly forwarded: boolean
}

export interface Policy {
  readonly selfNames: ReadonlySet<string>
  readonly masters: readonly Master[]
  readonly mode: Mode
  /** Set only when exactly one account thumbprint is configured. */
  readonly thumbprint: string | undefined
}

/** What to do when no usable local token file exists. */
export type Fallback =
  | { readonly kind: 'redirect', readonly location: string }
  | { readonly kind: 'proxy' }
  | { readonly kind: 'stateless', readonly body: string }
  | { readonly kind: 'not-found' }

export type Decision =
  | { readonly kind: 'bad-request', readonly reason: string }
  | { readonly kind: 'method-not-allowed' }
  | { readonly kind: 'maintenance' }
  | { readonly kind: 'invalid-token' }
  | { readonly kind: 'challenge', readonly token: string, readonly host: string | undefined, readonly fallback: Fallback }

export function policyFromConfig (config: Config): Policy {
  return Object.freeze({
    selfNames: new Set([...config.masters.map((m) => m.host), ...config.aliases]),
    masters: config.masters,
    mode: config.mode,
    thumbprint: config.thumbprints.length === 1 ? config.thumbprints[0] : undefined
  })
}

function fallbackFor (policy: Policy, token: string, host: string | undefined, forwarded: boolean): Fallback {
  if (policy.thumbprint !== undefined) return { kind: 'stateless', body: `${token}.${policy.thumbprint}` }
  const master = policy.masters[0]
  // Without a Host (HTTP/1.0) we cannot be sure we are not the master, so we send the validator on:
  // the master it reaches then answers for itself, so no loop is possible.
  if (master === undefined || forwarded || (host !== undefined && policy.selfNames.has(host))) return { kind: 'not-found' }
  if (policy.mode === 'proxy') return { kind: 'proxy' }
  // Only configuration and the validated token go into Location (RFC 8555 §10.2).
  return { kind: 'redirect', location: `${master.url}${CHALLENGE_PREFIX}/${token}` }
}

const fixed = <D extends Decision>(d: D): D => Object.freeze(d)
// The decisions that are the same for every request they answer, made once.
const DUPLICATE_HOST = fixed({ kind: 'bad-request', reason: 'duplicate Host header' })
const MALFORMED = fixed({ kind: 'bad-request', reason: 'malformed request target' })
const INVALID_HOST = fixed({ kind: 'bad-request', reason: 'invalid Host header' })
const MISSING_HOST = fixed({ kind: 'bad-request', reason: 'missing Host header' })
const MAINTENANCE = fixed({ kind: 'maintenance' })
const METHOD_NOT_ALLOWED = fixed({ kind: 'method-not-allowed' })
const INVALID_TOKEN = fixed({ kind: 'invalid-token' })

export function decide (req: RequestFacts, policy: Policy): Decision {
  if (req.hostHeaders.length > 1) return DUPLICATE_HOST
  const target = parseTarget(req.target)
  if (target.kind === 'malformed') return MALFORMED
  const hostValue = target.authority ?? req.hostHeaders[0]
  let host: string | undefined
  if (hostValue !== undefined) {
    host = parseHostHeader(hostValue)
    if (host === undefined) return INVALID_HOST
  } else if (req.httpVersion !== '1.0') {
    return MISSING_HOST
  }
  if (target.kind === 'other') return MAINTENANCE
  if (req.method !== 'GET' && req.method !== 'HEAD') return METHOD_NOT_ALLOWED
  if (target.token === undefined) return INVALID_TOKEN
  return { kind: 'challenge', token: target.token, host, fallback: fallbackFor(policy, target.token, host, req.forwarded) }
}
