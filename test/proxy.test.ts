// Proxy mode against real local masters on 127.0.0.x: failover, timeouts, caps, loop guard, sharing.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import type { Runtime } from '../src/serve/runtime.js'
import { get, has, httpServer as master, startResponder, tempDir } from './helpers.js'
import { upstreamFlood, type FloodResult } from './upstream-flood.js'
import { freePort } from './ports.js'

const P = '/.well-known/acme-challenge/'
const T = 'proxy_token-123'

/** A port that was just free: nothing listens there, so connecting is refused. */
async function closedPort (host: string): Promise<string> {
  return `http://${host}:${await freePort(host)}`
}

const ok = (body: string) => (_req: IncomingMessage, res: ServerResponse): void => { res.end(body) }
const notFound = (_req: IncomingMessage, res: ServerResponse): void => { res.statusCode = 404; res.end('{}') }

async function responder (t: { after: (fn: () => unknown) => void }, masters: string[], extra: Record<string, string> = {}, wrap?: (rt: Runtime) => Runtime) {
  const r = await startResponder({ 'challenge-dir': tempDir(t), mode: 'proxy', master: masters, ...extra }, '127.0.1.1', wrap)
  t.after(() => r.close())
  return r
}

test('first master 404, second 200 → 200 with the second\'s bytes and headers of our own', async (t) => {
  const m1 = await master(t, '127.0.1.2', notFound)
  const m2 = await master(t, '127.0.1.3', (_req, res) => { res.setHeader('content-type', 'text/evil'); res.setHeader('set-cookie', 'x=y'); res.end('from.two\n') })
  const r = await responder(t, [m1.url, m2.url])
  const res = await get(r, P + T, { host: 'mail.example.com', cookie: 'secret=1', authorization: 'Basic eA==' })
  assert.equal(res.status, 200)
  assert.equal(res.text, 'from.two\n')
  assert.equal(res.headers['content-type'], 'application/jose+json')
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.equal(res.headers['set-cookie'], undefined)
  const hit = m2.hits[0]
  assert.equal(hit?.url, P + T)
  assert.equal(hit?.headers.host, new URL(m2.url).host)
  assert.equal(hit?.headers.cookie, undefined)
  assert.equal(hit?.headers.authorization, undefined)
  assert.equal(hit?.headers['x-acme-responder-forwarded'], '1')
  const log = r.logs.find((l) => l.outcome === 'proxied')
  assert.equal(log?.master, m2.url)
  assert.deepEqual((log?.tries as Array<{ master: string, result: string }>).map((x) => [x.master, x.result]), [[m1.url, '404'], [m2.url, '200']])
})

test('first master down (closed port) → second used', async (t) => {
  const m2 = await master(t, '127.0.1.3', ok('two'))
  const r = await responder(t, [await closedPort('127.0.1.2'), m2.url])
  assert.equal((await get(r, P + T, { host: 'x' })).text, 'two')
  assert.match(String(r.logs.find((l) => l.level === 40)?.msg), /ECONNREFUSED/)
})

test('first master hangs → timeout, then the second, within the budget', async (t) => {
  const hang = await master(t, '127.0.1.2', () => {})
  const m2 = await master(t, '127.0.1.3', ok('two'))
  const r = await responder(t, [hang.url, m2.url], { 'proxy-timeout': '500', 'proxy-budget': '1500' })
  const t0 = Date.now()
  const res = await get(r, P + T, { host: 'x' })
  assert.equal(res.text, 'two')
  assert.ok(Date.now() - t0 < 1500 + 500, 'answered within the budget')
  assert.match(String(r.logs.find((l) => l.level === 40)?.msg), /timeout/)
})

test('masters that all hang exhaust the budget and give 502', async (t) => {
  const h1 = await master(t, '127.0.1.2', () => {})
  const h2 = await master(t, '127.0.1.3', () => {})
  const h3 = await master(t, '127.0.1.4', () => {})
  const r = await responder(t, [h1.url, h2.url, h3.url], { 'proxy-timeout': '400', 'proxy-budget': '600' })
  const t0 = Date.now()
  assert.equal((await get(r, P + T, { host: 'x' })).status, 502)
  assert.ok(Date.now() - t0 < 600 + 500, 'the overall budget bounds the wait')
  assert.equal(h3.hits.length, 0, 'the third master is not tried once the budget is spent')
})

test('all 404 → 404; none reachable → 502; 500 and redirects count as failures', async (t) => {
  const a = await master(t, '127.0.1.2', notFound)
  const b = await master(t, '127.0.1.3', notFound)
  assert.equal((await get(await responder(t, [a.url, b.url]), P + T, { host: 'x' })).status, 404)
  const r2 = await responder(t, [await closedPort('127.0.1.5'), await closedPort('127.0.1.6')])
  const res = await get(r2, P + T, { host: 'x' })
  assert.equal(res.status, 502)
  assert.equal(res.headers['content-type'], 'application/json')
  const e500 = await master(t, '127.0.1.7', (_req, res) => { res.statusCode = 500; res.end('boom') })
  const e302 = await master(t, '127.0.1.8', (_req, res) => { res.writeHead(302, { location: 'http://elsewhere/' }).end() })
  const r3 = await responder(t, [e500.url, e302.url])
  assert.equal((await get(r3, P + T, { host: 'x' })).status, 502)
  const warned = r3.logs.filter((l) => l.level === 40)
  assert.equal(warned.length, 1, 'one line per request, naming every failed master')
  assert.deepEqual((warned[0]?.tries as Array<{ result: string }>).map((x) => x.result), ['status 500', 'status 302'])
  assert.equal(warned[0]?.msg, `master ${e500.url} failed: status 500; master ${e302.url} failed: status 302`)
})

test('a master returning 10 MiB is a failure and memory stays bounded', async (t) => {
  const big = await master(t, '127.0.1.2', (_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, 'z')
    let sent = 0
    const pump = (): void => {
      while (sent < 10 * 1024 * 1024) {
        sent += chunk.length
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      res.end()
    }
    pump()
  })
  const m2 = await master(t, '127.0.1.3', ok('small'))
  const r = await responder(t, [big.url, m2.url])
  const before = process.memoryUsage().rss
  const res = await get(r, P + T, { host: 'x' })
  assert.equal(res.text, 'small')
  assert.match(String(r.logs.find((l) => l.level === 40)?.msg), /body over 4096 bytes/)
  assert.ok(process.memoryUsage().rss - before < 8 * 1024 * 1024, 'the 10 MiB body was not buffered')
})

test('two responders as each other\'s master → 404, not a loop', async (t) => {
  const { startResponder: start } = await import('./helpers.js')
  // Each needs the other's port before it starts: bind a forwarder that learns it afterwards.
  let bUrl = ''
  const forward = await master(t, '127.0.1.9', (req, res) => {
    const u = new URL(bUrl + (req.url ?? ''))
    import('node:http').then(({ request }) => {
      const up = request(u, { headers: req.headers }, (ur) => { res.writeHead(ur.statusCode ?? 502, ur.headers); ur.pipe(res) })
      up.on('error', () => res.writeHead(502).end())
      up.end()
    }, () => {})
  })
  const a = await start({ 'challenge-dir': tempDir(t), mode: 'proxy', master: [forward.url] }, '127.0.1.10')
  t.after(() => a.close())
  const b = await start({ 'challenge-dir': tempDir(t), mode: 'proxy', master: [a.url] }, '127.0.1.11')
  t.after(() => b.close())
  bUrl = b.url
  const res = await get(a, P + T, { host: 'mail.example.com' })
  assert.equal(res.status, 404)
  assert.equal(forward.hits.length, 1, 'A forwarded once')
  assert.equal(a.logs.filter((l) => l.msg === 'challenge request').length, 1, 'B\'s forwarded request was not sent back to A')
  assert.equal(b.logs.find((l) => l.msg === 'challenge request')?.outcome, 'not-found')
})

test('never forwards when the Host is the master itself', async (t) => {
  const m = await master(t, '127.0.1.2', ok('x'))
  const r = await responder(t, [m.url])
  assert.equal((await get(r, P + T, { host: '127.0.1.2' })).status, 404)
  assert.equal(m.hits.length, 0)
})

test('concurrent identical requests all get 200 and share one upstream fetch', async (t) => {
  // The master answers only once all ten requests have reached the lookup step: all of them are
  // then certainly waiting at the same time, and must share the one fetch.
  let looked = 0
  let release = (): void => {}
  const all = new Promise<void>((resolve) => { release = resolve })
  const m = await master(t, '127.0.1.2', (_req, res) => { all.then(() => res.end('shared'), () => {}) })
  const r = await responder(t, [m.url], {}, (rt) => ({ ...rt, tokens: { sync: rt.tokens.sync, lookup: (tok: string) => { if (++looked === 10) release(); return rt.tokens.lookup(tok) } } }))
  const answers = await Promise.all(Array.from({ length: 10 }, () => get(r, P + T, { host: 'x' })))
  for (const a of answers) {
    assert.equal(a.status, 200)
    assert.equal(a.text, 'shared')
  }
  assert.equal(m.hits.length, 1, `${m.hits.length} upstream requests for 10 identical ones`)
})

test('upstream sockets per master stay bounded under a burst of distinct tokens', async (t) => {
  let open = 0
  let peak = 0
  const m = await master(t, '127.0.1.2', (_req, res) => { setTimeout(() => res.end('ok'), 50) })
  m.server.on('connection', (s) => { open++; peak = Math.max(peak, open); s.on('close', () => open--) })
  const r = await responder(t, [m.url])
  // Two tokens from each of 20 client addresses: within every client's share, so all are fetched.
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => get({ ...r, localAddress: `127.0.2.${(i % 20) + 1}` }, `${P}tok${i}`, { host: 'x' })))
  for (const a of answers) assert.equal(a.status, 200)
  assert.ok(peak <= 4, `peak upstream sockets ${peak}`)
})

function assertCaServed (result: FloodResult): void {
  for (const [i, round] of result.rounds.entries()) {
    assert.ok(!('error' in round), `round ${i + 1}: ${'error' in round ? round.error : ''}`)
    assert.deepEqual(round.statuses, [200, 200, 200, 200, 200], `round ${i + 1}`)
    assert.deepEqual(round.bodies, Array(5).fill(true), `round ${i + 1}: the key authorization`)
  }
  assert.equal(result.rounds.length, 2)
  // The CA's fetch waits for the fetches in flight only: no more flood fetches than the 4 upstream slots
  // start between its request and its fetch (those whose slots freed while its request was on the way).
  // A queue blind to networks lets every waiting flood client go first: 64 and more, measured.
  for (const [i, n] of result.overtaken.entries()) assert.ok(n >= 0 && n <= 4, `round ${i + 1}: ${n} flood fetches went before the CA's`)
  // The flood was answered too (404 from the master, 429 past a client's share), never a 502.
  assert.deepEqual(Object.keys(result.flood).filter((s) => s !== '404' && s !== '429'), [], JSON.stringify(result.flood))
}

test('a network flooding the upstream does not hold up the CA: a free slot goes to the network with the fewest fetches running', async () => {
  // 64 addresses of one /24, the CA's perspectives from five other /24s.
  assertCaServed(await upstreamFlood({
    responder: '127.0.1.1',
    master: '127.0.1.2',
    flooders: Array.from({ length: 64 }, (_, i) => `127.0.20.${i + 1}`),
    ca: (round) => [21, 22, 23, 24, 25].map((n) => `127.0.${n}.${round}`)
  }))
})

/** Root, unshare and ip: a network namespace whose loopback answers for a whole IPv6 prefix. */
const NETNS = process.getuid?.() === 0 && has('unshare') && has('ip')

test('the same over IPv6: 64 /64s of one /58 flood, the CA from five other /48s gets through', { skip: NETNS ? false : 'needs root, unshare and ip for a network namespace' }, () => {
  // A loopback that answers for 2001:db8::/32 (AnyIP), in a namespace of its own: no address of the host is touched.
  const child = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && ip -6 route add local 2001:db8::/32 dev lo && echo 1 > /proc/sys/net/ipv6/ip_nonlocal_bind && exec "$0" "$@"',
    process.execPath, fileURLToPath(new URL('upstream-flood.js', import.meta.url))], { encoding: 'utf8', timeout: 120_000 })
  assert.equal(child.status, 0, child.stderr)
  assertCaServed(JSON.parse(child.stdout) as FloodResult)
})
