// Prebuilt answers: header blocks and bodies computed once per configuration, not per request.

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /**
   * The exact bytes as a latin1 string: node:http sends a string body in the same write as the
   * header block, where a Buffer body costs a second chunk (writev) on every response.
   */
  readonly body: string
}

export interface Answers {
  readonly maintenance: Answer
  readonly badRequest: Answer
  readonly methodNotAllowed: Answer
  readonly invalidToken: Answer
  readonly notFound: Answer
  readonly unusable: Answer
  readonly badGateway: Answer
  readonly tooMany: Answer
  readonly contentType: string
  readonly redirectStatus: number
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

function answer (status: number, headers: Record<string, string>, body: Buffer): Answer {
  return Object.freeze({
    status,
    headers: Object.freeze({ ...COMMON, ...headers, 'content-length': String(body.length) }),
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
  return Object.freeze({
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
    tooMany: jsonError(429, 'too many challenge fetches from this client at once', { 'retry-after': '1' }),
    contentType: settings.contentType,
    redirectStatus: settings.redirectStatus
  })
}

export function tokenAnswer (answers: Answers, body: Buffer): Answer {
  return answer(200, { 'content-type': answers.contentType }, body)
}

/** Built per request (Location varies), so without the spread and freeze of the prebuilt answers. */
export function redirectAnswer (answers: Answers, location: string): Answer {
  return {
    status: answers.redirectStatus,
    headers: { ...COMMON, location, 'content-length': '0' },
    body: ''
  }
}
