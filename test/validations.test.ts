// One summary line per validation (master, secondary, proxy; failures at warn; floods bounded), and /metrics.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Agent } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { PER_CLIENT } from '../src/serve/validations.js'
import { get, has, httpServer, startResponder, tempDir, waitFor } from './helpers.js'

const P = '/.well-known/acme-challenge/'
const token = (): string => randomBytes(32).toString('base64url')
/** The CA's primary and four remote perspectives. */
const perspectives = (third: number): string[] => [1, 2, 3, 4, 5].map((n) => `127.0.${third}.${n}`)

type Logs = Array<Record<string, unknown>>
const summaries = (logs: Logs, tok: string): Logs => logs.filter((l) => String(l.msg).includes('validation') && l.token === tok)

/** Five requests for the token from five addresses, then the one summary they make (quiet 3 s, checked every second). */
async function validate (r: { port: number, host: string, logs: Logs }, tok: string, third: number, host = 'mail.example.com'): Promise<Record<string, unknown>> {
  for (const from of perspectives(third)) await get({ host: r.host, port: r.port, localAddress: from }, P + tok, { host })
  await waitFor(() => summaries(r.logs, tok).length > 0, 'the validation summary', 20_000)
  return summaries(r.logs, tok)[0] ?? {}
}

test('on a master: five requests from five addresses make one summary line, served 200 ×5', async (t) => {
  const dir = tempDir(t)
  const tok = token()
  writeFileSync(join(dir, tok), `${tok}.thumb`)
  const r = await startResponder({ 'challenge-dir': dir }, '127.0.14.100')
  t.after(() => r.close())
  const s = await validate(r, tok, 14)
  assert.equal(s.level, 30)
  assert.equal(s.msg, 'validation')
  assert.equal(s.requests, 5)
  assert.equal(s.addresses, 5)
  assert.equal(s.networks, 1)
  assert.deepEqual(s.from, perspectives(14))
  assert.deepEqual(s.statuses, { 200: 5 })
  assert.deepEqual(s.outcomes, { served: 5 })
  assert.deepEqual(s.hosts, ['mail.example.com'])
  assert.equal(typeof s.spanMs, 'number')
  // Exactly one, also after another quiet period.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(summaries(r.logs, tok).length, 1)
})

test('on a secondary: redirected 302 ×5; and a retry later makes a second summary', async (t) => {
  const r = await startResponder({ 'challenge-dir': tempDir(t), master: ['www.example.com'] }, '127.0.14.101')
  t.after(() => r.close())
  const tok = token()
  const s = await validate(r, tok, 15)
  assert.equal(s.msg, 'validation')
  assert.deepEqual(s.statuses, { 302: 5 })
  assert.deepEqual(s.outcomes, { redirected: 5 })
  // The CA retries the challenge later: a validation of its own.
  for (const from of perspectives(16)) await get({ host: r.host, port: r.port, localAddress: from }, P + tok, { host: 'mail.example.com' })
  await waitFor(() => summaries(r.logs, tok).length === 2, 'the second summary', 20_000)
  assert.deepEqual(summaries(r.logs, tok)[1]?.from, perspectives(16))
})

test('in proxy mode: proxied 200 ×5 with the master that answered; every master 404 makes it a warning', async (t) => {
  const good = token()
  const m = await httpServer(t, '127.0.14.2', (req, res) => {
    if (req.url === P + good) res.end(`${good}.thumb`)
    else res.writeHead(404).end()
  })
  const r = await startResponder({ 'challenge-dir': tempDir(t), mode: 'proxy', master: [m.url] }, '127.0.14.102')
  t.after(() => r.close())
  const s = await validate(r, good, 17)
  assert.equal(s.msg, 'validation')
  assert.deepEqual(s.outcomes, { proxied: 5 })
  assert.deepEqual(s.masters, [m.url])
  const bad = token()
  const w = await validate(r, bad, 18)
  assert.equal(w.level, 40)
  assert.match(String(w.msg), /^validation: not what the CA needs \(not-found ×5\)$/)
  assert.deepEqual(w.statuses, { 404: 5 })
})

test('a 404 on the master is a warning', async (t) => {
  const r = await startResponder({ 'challenge-dir': tempDir(t) }, '127.0.14.103')
  t.after(() => r.close())
  const w = await validate(r, token(), 19)
  assert.equal(w.level, 40)
  assert.match(String(w.msg), /not-found ×5/)
})

test('a flood of 2,000 random tokens from one address makes a bounded number of summary lines', async (t) => {
  const r = await startResponder({ 'challenge-dir': tempDir(t), master: ['www.example.com'] }, '127.0.14.104')
  t.after(() => r.close())
  const agent = new Agent({ keepAlive: true, maxSockets: 8, localAddress: '127.0.20.200' })
  t.after(() => agent.destroy())
  const tokens = Array.from({ length: 2000 }, token)
  for (let i = 0; i < tokens.length; i += 8) {
    await Promise.all(tokens.slice(i, i + 8).map((tok) => get({ host: r.host, port: r.port, agent }, P + tok, { host: 'mail.example.com' })))
  }
  // Meanwhile a real validation from five other addresses is summarised as always.
  const real = token()
  const s = await validate(r, real, 21)
  assert.equal(s.addresses, 5)
  await waitFor(() => r.logs.some((l) => l.kind === 'validation not summarised (too many tokens at once)'), 'the count of tokens dropped')
  const lines = r.logs.filter((l) => String(l.msg).startsWith('validation') && l.token !== undefined && l.token !== real)
  assert.ok(lines.length <= PER_CLIENT, `${lines.length} summary lines for the flood`)
})

/** The Prometheus exposition as a map from `name{labels}` to value. */
function samples (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

test('--metrics-listen: /metrics counts what the requests did, passes promtool, and port 80 knows nothing of it', async (t) => {
  const dir = tempDir(t)
  const tok = token()
  writeFileSync(join(dir, tok), `${tok}.thumb`)
  writeFileSync(join(dir, 'linked'), 'x')
  const r = await startResponder({ 'challenge-dir': dir, 'metrics-listen': '127.0.14.111:0' }, '127.0.14.110')
  t.after(() => r.close())
  const where = String(r.logs.find((l) => l.msg === 'acme-responder listening')?.metrics)
  const port = Number(where.slice(where.lastIndexOf(':') + 1))
  const scrape = async (): Promise<Map<string, number>> => {
    const res = await get({ host: '127.0.14.111', port }, '/metrics')
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    return samples(res.text)
  }
  const before = await scrape()
  assert.equal(before.get('acme_responder_token_files_refused_total'), 0)
  assert.ok((before.get('process_resident_memory_bytes') ?? 0) > 1e6)
  assert.ok(Math.abs((before.get('process_start_time_seconds') ?? 0) - Date.now() / 1000) < 600)
  await validate(r, tok, 22)
  for (let i = 0; i < 3; i++) assert.equal((await get(r, '/', { host: 'www.example.com' })).status, 503)
  assert.equal((await get(r, P + 'missing-token', { host: 'www.example.com' })).status, 404)
  // On the answering port, /metrics is the maintenance page like any other path.
  assert.equal((await get(r, '/metrics', { host: 'www.example.com' })).status, 503)
  const after = await scrape()
  assert.equal(after.get('acme_responder_answers_total{outcome="served",status="200"}'), 5)
  assert.equal(after.get('acme_responder_answers_total{outcome="maintenance",status="503"}'), 4)
  assert.equal(after.get('acme_responder_answers_total{outcome="not-found",status="404"}'), 1)
  assert.equal(after.get('acme_responder_validations_total{result="ok"}'), 1)
  assert.ok((after.get('acme_responder_connections_open') ?? -1) >= 0)
  // The scrape port answers /metrics only.
  assert.equal((await get({ host: '127.0.14.111', port }, '/')).status, 404)
  const text = (await get({ host: '127.0.14.111', port }, '/metrics')).text
  if (has('promtool')) {
    const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.equal(res.status, 0, `promtool: ${res.stdout}${res.stderr}`)
    assert.equal(`${res.stdout}${res.stderr}`.trim(), '', 'promtool has nothing to say')
  } else if (process.env.CI !== undefined && process.env.CI !== '') {
    assert.fail('promtool is needed in CI (Debian package prometheus)')
  } else {
    t.diagnostic('promtool not installed (Debian package prometheus): the exposition was not checked by it')
  }
})
