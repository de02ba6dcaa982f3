// What a challenge log line holds, and the bounds that make "the log grows by at most so much a second" true.

/**
 * Challenge log lines: a validation is a handful of requests from a few addresses, each with a full
 * budget of its own; a flood from one address gets a few lines and then the per-minute count. The
 * global bucket bounds the log's growth under a flood from many addresses (20 lines a second).
 */
export const LOG_PER_CLIENT = { burst: 20, perSecond: 2 }
export const LOG_IN_ALL = { burst: 200, perSecond: 20 }

/**
 * Client-supplied fields are cut by the bytes they take once JSON-escaped, not by characters: a `"`
 * becomes two bytes and a control character six, so a character cap let a 200-character User-Agent
 * cost 1,200 bytes. A real token is 43 characters (base64url of 32 bytes): one over TOKEN_CHARS is
 * logged as its first characters and its length.
 */
export const FIELD_BYTES = 64
export const TOKEN_CHARS = 64
/** The longest challenge line these cuts allow (measured by the log growth test, with room to spare). */
export const LOG_LINE_MAX = 512

/** The bytes a UTF-16 code unit takes in pino's JSON: escapes for `"`, `\` and controls; UTF-8 otherwise. */
function escapedBytes (c: number): number {
  if (c === 0x22 || c === 0x5c) return 2
  if (c < 0x20) return 6
  if (c < 0x80) return 1
  if (c < 0x800) return 2
  // A surrogate half counts 3, so a pair counts 6 for its 4 bytes (or a lone half's 6-byte escape).
  return 3
}

/** s cut so that its JSON-escaped form takes at most max bytes (plus the '…' that says it was cut). */
export function clip (s: string | undefined, max = FIELD_BYTES): string | undefined {
  if (s === undefined) return undefined
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    bytes += escapedBytes(s.charCodeAt(i))
    if (bytes > max) {
      // Never split a surrogate pair: a lone half would cost an escape of its own.
      const low = s.charCodeAt(i) & 0xfc00
      return s.slice(0, low === 0xdc00 ? i - 1 : i) + '…'
    }
  }
  return s
}

/** The token as a line holds it: whole when it could be real, else its first characters and its length. */
export function tokenFields (token: string | undefined): { token?: string, tokenLength?: number } {
  if (token === undefined) return {}
  if (token.length <= TOKEN_CHARS) return { token }
  return { token: token.slice(0, TOKEN_CHARS) + '…', tokenLength: token.length }
}

/**
 * The outcome's details, bounded: a redirect's location is the master's URL and the token, so it is
 * left out when the token was cut (the line has the token's start, and the master is in the config).
 */
export function detailFields (detail: Readonly<Record<string, unknown>> | undefined, tokenCut: boolean): Readonly<Record<string, unknown>> | undefined {
  if (detail === undefined || !tokenCut || !('location' in detail)) return detail
  const { location: _location, ...rest } = detail
  return rest
}
