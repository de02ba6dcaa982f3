// Classifies the raw request target: challenge token, other path, or malformed; never decodes it.

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge'

/** RFC 8555 tokens are base64url; anything else (dots, slashes, percent signs) never reaches the disk. */
const TOKEN = /^[A-Za-z0-9_-]{1,255}$/

export function isToken (segment: string): boolean {
  return TOKEN.test(segment)
}

export type Target =
  | { readonly kind: 'challenge', readonly token: string | undefined, readonly authority: string | undefined }
  | { readonly kind: 'other', readonly authority: string | undefined }
  | { readonly kind: 'malformed' }

const OTHER: Target = Object.freeze({ kind: 'other', authority: undefined })

/**
 * Reads the target exactly as sent. The token is the raw segment after the prefix: a percent-encoded,
 * dotted, slashed or backslashed segment is simply not a token, so no decoding can smuggle a path in.
 */
export function parseTarget (raw: string): Target {
  // The maintenance page's traffic (all of a web host's while Apache is down) needs no more than this:
  // a path that does not start with the prefix cannot gain it by losing its query or fragment.
  if (raw.startsWith('/') && !raw.startsWith(CHALLENGE_PREFIX)) return OTHER
  let authority: string | undefined
  let path = raw
  if (!raw.startsWith('/')) {
    if (raw === '*') return { kind: 'other', authority: undefined }
    // Absolute form (RFC 9112 §3.2.2): servers must accept it, and its authority replaces Host.
    const abs = /^https?:\/\/([^/?#]*)(.*)$/i.exec(raw)
    if (abs === null) return { kind: 'malformed' }
    authority = abs[1] ?? ''
    path = abs[2] ?? ''
    if (path === '' || path.startsWith('?')) path = '/' + path
    if (!path.startsWith('/')) return { kind: 'malformed' }
  }
  const end = path.search(/[?#]/)
  if (end >= 0) path = path.slice(0, end)
  // Without the trailing slash it is not the challenge path (SPEC: every other path is the maintenance page).
  if (path === CHALLENGE_PREFIX + '/') return { kind: 'challenge', token: undefined, authority }
  if (!path.startsWith(CHALLENGE_PREFIX + '/')) return { kind: 'other', authority }
  const token = path.slice(CHALLENGE_PREFIX.length + 1)
  return { kind: 'challenge', token: isToken(token) ? token : undefined, authority }
}
