// The floor baseline: a node:http server that sends acme-responder's exact bytes, with the one lstat per
// challenge request that the freshness promise needs, and nothing else. Run: node floor.js PORT DIR.
import { lstatSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { buildConfig } from '../src/config/config.js'
import { buildAnswers, DEFAULT_MAINTENANCE_PAGE } from '../src/core/answers.js'

const PREFIX = '/.well-known/acme-challenge/'
const [port, dir] = process.argv.slice(2)
if (port === undefined || dir === undefined) throw new Error('usage: floor.js PORT DIR')

// The configuration acme-responder runs with in the bench, so the bytes are the same by construction.
const config = buildConfig({ 'challenge-dir': dir, master: 'www.example.com' }, process.platform)
const master = config.masters[0]?.url ?? ''
const answers = buildAnswers(config, Buffer.from(DEFAULT_MAINTENANCE_PAGE))
const bodies = new Map<string, Buffer>()

const server = createServer({ connectionsCheckingInterval: 1000, requireHostHeader: false, noDelay: true }, (req, res) => {
  const url = req.url ?? '/'
  let a = answers.of({ kind: 'fixed', name: 'maintenance' })
  if (url.startsWith(PREFIX)) {
    const token = url.slice(PREFIX.length)
    // SPEC: a token written a moment ago is served, a removed one never again: one lstat per request.
    const st = lstatSync(join(dir, token), { throwIfNoEntry: false })
    if (st === undefined) {
      a = answers.of({ kind: 'redirect', location: master + url })
    } else {
      let body = bodies.get(token)
      if (body === undefined) bodies.set(token, body = readFileSync(join(dir, token)))
      a = answers.of({ kind: 'token', body })
    }
  }
  res.writeHead(a.status, a.headers as string[])
  res.end(a.body, 'latin1')
})
// As acme-responder holds idle connections in the footprint rows.
server.keepAliveTimeout = 120_000
server.listen(Number(port), '127.0.0.1')
