// Classifies the raw request target: challenge token, other path, or malformed; never decodes it.

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge'
const TOKEN_START = `${CHALLENGE_PREFIX}/`

/** RFC 8555 tokens are base64url; anything else (dots, slashes, percent signs) never reaches the disk. */
const TOKEN_CHARS = '[A-Za-z0-9_-]{1,255}'
const TOKEN = new RegExp(`^${TOKEN_CHARS}$`)
/**
 * The prefix, then, when the segment after it is a token up to the path's end (a query, a fragment or
 * nothing), that token: one match classifies the path and takes the token out.
 */
const CHALLENGE_PATH = new RegExp(`^${TOKEN_START.replaceAll('.', '\\.')}(?:(${TOKEN_CHARS})(?:[?#]|$))?`)

export function isToken (segment: string): boolean {
  return TOKEN.test(segment)
}

export type Target =
  | { readonly kind: 'challenge', readonly token: string | undefined, readonly authority: string | undefined }
  | { readonly kind: 'other', readonly authority: string | undefined }
  | { readonly kind: 'malformed' }

const OTHER: Target = Object.freeze({ kind: 'other', authority: undefined })
const MALFORMED: Target = Object.freeze({ kind: 'malformed' })

/** Classifies an origin-form target (it starts with a slash). */
function fromPath (path: string, authority: string | undefined): Target {
  // Paths outside the prefix are all of a web host's traffic while Apache is down: nothing more is done.
  const m = path.startsWith(TOKEN_START) ? CHALLENGE_PATH.exec(path) : null
  if (m === null) return authority === undefined ? OTHER : { kind: 'other', authority }
  return { kind: 'challenge', token: m[1], authority }
}

/**
 * Reads the target exactly as sent. The token is the raw segment after the prefix: a percent-encoded,
 * dotted, slashed or backslashed segment is simply not a token, so no decoding can smuggle a path in.
 */
export function parseTarget (raw: string): Target {
  if (raw.startsWith('/')) return fromPath(raw, undefined)
  if (raw === '*') return OTHER
  // Absolute form (RFC 9112 §3.2.2): servers must accept it, and its authority replaces Host.
  const abs = /^https?:\/\/([^/?#]*)(.*)$/i.exec(raw)
  if (abs === null) return MALFORMED
  const rest = abs[2] ?? ''
  if (rest !== '' && !rest.startsWith('/') && !rest.startsWith('?')) return MALFORMED
  return fromPath(rest.startsWith('/') ? rest : '/' + rest, abs[1] ?? '')
}
