// The answers' bytes: header blocks and bodies computed once per configuration, not per request.
import type { Fixed, Reply } from './outcome.js'

export interface Answer {
  readonly status: number
  /**
   * Name, value, name, value…: node:http writes a flat array straight into the header block, where an
   * object is first copied into the response's header map, header by header, on every response.
   */
  readonly headers: readonly string[]
  /**
   * The exact bytes as a latin1 string: node:http sends a string body in the same write as the
   * header block, where a Buffer body costs a second chunk (writev) on every response.
   */
  readonly body: string
}

export interface Answers {
  /** The answer a reply of the core stands for; token answers are built once per file content. */
  of (reply: Reply): Answer
  /** Bytes of the largest fixed answer (the maintenance page, as a rule): what one queued answer may hold. */
  readonly largest: number
}

export const DEFAULT_MAINTENANCE_PAGE = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Closed for Maintenance</title>
  </head>
  <body>
    <h1>We are temporarily closed<br>for site maintenance.</h1>
    <p>We'll be back in a little while... Thanks for your patience!</p>
  </body>
</html>
`

const COMMON = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' }
const flat = (h: Record<string, string>): string[] => Object.entries(h).flat()
/** A redirect's headers but its Location, built once: per request only the Location is added. */
const REDIRECT_HEADERS = flat({ ...COMMON, 'content-length': '0' })

function answer (status: number, headers: Record<string, string>, body: Buffer): Answer {
  return Object.freeze({
    status,
    headers: Object.freeze(flat({ ...COMMON, ...headers, 'content-length': String(body.length) })),
    body: body.toString('latin1')
  })
}

function jsonError (status: number, error: string, extra: Record<string, string> = {}): Answer {
  const body = Buffer.from(JSON.stringify({ status, error }) + '\n')
  return answer(status, { 'content-type': 'application/json', ...extra }, body)
}

export interface AnswerSettings {
  readonly maintenanceStatus: number
  readonly retryAfter: number
  readonly contentType: string
  readonly redirectStatus: number
}

export function buildAnswers (settings: AnswerSettings, maintenancePage: Buffer): Answers {
  const fixed: Record<Fixed, Answer> = Object.freeze({
    maintenance: answer(settings.maintenanceStatus, {
      'content-type': 'text/html; charset=utf-8',
      'retry-after': String(settings.retryAfter)
    }, maintenancePage),
    badRequest: jsonError(400, 'bad request', { connection: 'close' }),
    methodNotAllowed: jsonError(405, 'method not allowed', { allow: 'GET, HEAD' }),
    invalidToken: jsonError(404, 'not a valid challenge token'),
    notFound: jsonError(404, 'challenge token not found'),
    unusable: jsonError(500, 'challenge token file unusable'),
    badGateway: jsonError(502, 'no master could be reached'),
    tooMany: jsonError(429, 'too many challenge fetches from this client at once', { 'retry-after': '1' })
  })
  // The token store hands back the same Buffer while a file is unchanged: one answer per content.
  const tokens = new WeakMap<Buffer, Answer>()
  const token = (body: Buffer): Answer => {
    let a = tokens.get(body)
    if (a === undefined) {
      a = answer(200, { 'content-type': settings.contentType }, body)
      tokens.set(body, a)
    }
    return a
  }
  const redirectStatus = settings.redirectStatus
  const size = (a: Answer): number => a.body.length + a.headers.reduce((n, h) => n + h.length + 2, 0)
  return Object.freeze({
    largest: Math.max(...Object.values(fixed).map(size)),
    of (reply: Reply): Answer {
      switch (reply.kind) {
        case 'fixed': return fixed[reply.name]
        case 'token': return token(reply.body)
        // Built per request (Location varies), so without the spread and freeze of the fixed answers.
        case 'redirect': return { status: redirectStatus, headers: [...REDIRECT_HEADERS, 'location', reply.location], body: '' }
      }
    }
  })
}
