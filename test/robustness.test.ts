// Slow and many clients: timeouts cut slowloris, idle floods do not stop the responder answering others.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildConfig } from '../src/config/config.js'
import { createConnectionTable } from '../src/serve/connection-table.js'
import { createHttpServer, drain, listen } from '../src/serve/server.js'
import { get, startResponder, tcpStates, tempDir, waitFor } from './helpers.js'

const P = '/.well-known/acme-challenge/'

function open (port: number, localAddress?: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', ...localAddress === undefined ? {} : { localAddress } })
  s.on('error', () => {})
  s.resume()
  return once(s, 'connect').then(() => s)
}

async function closedWithin (s: Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.readableEnded) return true
  // Not events.once(): it rejects on the EPIPE a cut socket may report first.
  const closed = new Promise<boolean>((resolve) => s.once('close', () => resolve(true)))
  const late = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())
  return await Promise.race([closed, late])
}

test('slowloris: silent, half-sent and trickling connections are cut after the timeouts', async (t) => {
  const r = await startResponder({ 'challenge-dir': tempDir(t), 'headers-timeout': '1000', 'request-timeout': '1500', 'keep-alive-timeout': '500' })
  t.after(() => r.close())
  const silent = await open(r.port)
  const half = await open(r.port)
  half.write('GET / HTTP/1.1\r\nHost: x\r\n')
  const trickle = await open(r.port)
  trickle.write('GET / HTTP/1.1\r\n')
  const drip = setInterval(() => trickle.write('X-A: b\r\n'), 200)
  trickle.on('close', () => clearInterval(drip))
  t.after(() => clearInterval(drip))
  const keep = await open(r.port)
  keep.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  // Bounds are generous: this checks that the cut happens, not how fast.
  for (const [name, s] of [['silent', silent], ['half-sent', half], ['trickling', trickle], ['idle keep-alive', keep]] as const) {
    assert.ok(await closedWithin(s, 8000), `${name} connection still open`)
  }
})

test('a client that stops reading its answers is cut, and the others are still answered', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'page.html'), 'x'.repeat(1024 * 1024))
  // Unread answers are cut after max(request, keep-alive timeout) + 1 s of no progress: 1.5 s here.
  const r = await startResponder({ 'challenge-dir': dir, 'maintenance-page': join(dir, 'page.html'), 'headers-timeout': '200', 'request-timeout': '500', 'keep-alive-timeout': '300' })
  t.after(() => r.close())
  // Ten pipelined requests for a 1 MB page, and not one byte read: the answers fill both kernel buffers
  // and back up into the server, where neither the request nor the keep-alive timeout looks.
  const N = 10
  const reader = connect(r.port, '127.0.0.1')
  reader.on('error', () => {})
  await once(reader, 'connect')
  reader.pause()
  reader.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(N))
  assert.equal((await get(r, '/', { host: 'x' })).status, 503, 'others are answered meanwhile')
  // A paused socket cannot see its close. Node cuts a stalled socket between one and two timeouts after
  // its last progress; past that, reading again tells: a connection still held now gets every answer.
  await new Promise((resolve) => setTimeout(resolve, 5000))
  let bytes = 0
  reader.on('data', (d: Buffer) => { bytes += d.length })
  reader.resume()
  assert.ok(await closedWithin(reader, 10_000), 'the connection is still open')
  assert.ok(bytes < N * 1024 * 1024, `all ${N} answers arrived: the connection was held while nobody read`)
})

test('2,000 idle and 1,000 half-sent connections do not stop the responder answering others', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'tok'), 'answer')
  const r = await startResponder({ 'challenge-dir': dir })
  t.after(() => r.close())
  const sockets: Socket[] = []
  t.after(() => { for (const s of sockets) s.destroy() })
  for (let i = 0; i < 2000; i += 100) sockets.push(...await Promise.all(Array.from({ length: 100 }, () => open(r.port))))
  for (let i = 0; i < 1000; i += 100) {
    const batch = await Promise.all(Array.from({ length: 100 }, () => open(r.port)))
    for (const s of batch) s.write('GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: x\r\n')
    sockets.push(...batch)
  }
  const answers = await Promise.all(Array.from({ length: 20 }, () => get(r, P + 'tok', { host: 'x' })))
  for (const a of answers) assert.equal(a.text, 'answer')
  assert.equal((await get(r, '/', { host: 'x' })).status, 503, 'still serving')
})

test('a full table closes the longest-unused idle connection for a newcomer, which is answered', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'tok'), 'answer')
  const r = await startResponder({ 'challenge-dir': dir, 'max-connections': '50' })
  t.after(() => r.close())
  const hogs: Socket[] = []
  t.after(() => { for (const s of hogs) s.destroy() })
  // One at a time, so that their order at the server is known.
  for (let i = 0; i < 50; i++) hogs.push(await open(r.port, '127.0.4.1'))
  const first = hogs[0]
  assert.ok(first !== undefined)
  const closing = closedWithin(first, 10_000)
  assert.equal((await get({ ...r, localAddress: '127.0.4.2' }, P + 'tok', { host: 'x' })).text, 'answer')
  assert.equal(await closing, true, 'the oldest idle connection made room')
  assert.ok(!hogs.slice(1).some((s) => s.destroyed), 'only one was closed')
})

test('sockets that leave without a request leave the table; a silent one stays until the drain closes it', async (t) => {
  const conns = createConnectionTable({ maxConnections: 10_000, maxConnectionsPerClient: 10_000, answerBytes: 1024 })
  const server = createHttpServer((_req, res) => { res.end('ok') }, buildConfig({}, 'linux'), () => {}, conns)
  await listen(server, { host: '127.0.0.1', port: 0, ipv6Only: false, optional: false })
  t.after(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as { port: number }
  const arrived = (): Promise<Socket> => once(server, 'connection').then(([s]) => s as Socket)
  const silentArrived = arrived()
  const silent = await open(port)
  t.after(() => silent.destroy())
  const silentAtServer = await silentArrived
  // 300 clients that connect and go without a word, one after the other.
  for (let i = 0; i < 300; i++) {
    const next = arrived()
    const c = await open(port)
    const atServer = await next
    c.destroy()
    if (!atServer.destroyed) await once(atServer, 'close')
  }
  assert.equal(conns.open(), 1, 'only the silent socket is held')
  assert.deepEqual(conns.notServing(), [silentAtServer])
  // The drain must close the silent socket itself (closeIdleConnections does not see it).
  const closing = closedWithin(silent, 2000)
  await drain([server], conns, 10_000)
  assert.equal(await closing, true)
})

test('a connection that has gone makes room by itself: at the per-client cap, no live one is closed for it', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'tok'), 'answer')
  const r = await startResponder({ 'challenge-dir': dir, 'max-connections-per-client': '3' })
  t.after(() => r.close())
  const held: Socket[] = []
  t.after(() => { for (const s of held) s.destroy() })
  /** A request on the connection, answered: the responder has admitted it by then. */
  const ask = async (s: Socket): Promise<void> => {
    const answer = new Promise<void>((resolve) => { s.on('data', (d: Buffer) => { if (d.toString().includes('answer')) resolve() }) })
    s.write(`GET ${P}tok HTTP/1.1\r\nHost: x\r\n\r\n`)
    await answer
  }
  for (let i = 0; i < 3; i++) held.push(await open(r.port, '127.0.4.5'))
  for (const s of held) await ask(s)
  // The middle one leaves; the responder's side is gone from the kernel, but the table has not looked yet.
  const gone = held.splice(1, 1)[0] as Socket
  const ports = [r.port, gone.localPort ?? 0] as const
  gone.end()
  await waitFor(() => tcpStates(...ports).length === 0, 'the responder to close its side')
  // A fourth from the same address: the one that left makes room, not the longest-unused live one.
  const fourth = await open(r.port, '127.0.4.5')
  held.push(fourth)
  await ask(fourth)
  // A connection the responder closed would have left ESTABLISHED (01) on the client's side already.
  assert.deepEqual(held.map((s) => tcpStates(s.localPort ?? 0, r.port)), [['01'], ['01'], ['01']])
})
