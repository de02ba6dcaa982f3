// Hostile input: traversal in every encoding, unusable token files, malformed and smuggled requests.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Reply } from '../src/core/outcome.js'
import { get, raw, startCli, startResponder, statusOf, tempDir } from './helpers.js'

const P = '/.well-known/acme-challenge/'
const SECRET = 'TOP-SECRET-CONTENT-7f3a'

test('path traversal in any encoding: 404 or 400, nothing leaked, server alive', async (t) => {
  const root = tempDir(t)
  const dir = join(root, 'challenges')
  mkdirSync(dir)
  writeFileSync(join(root, 'secret'), SECRET)
  writeFileSync(join(dir, 'ok'), 'fine')
  // Every token the file system is asked about is recorded.
  const looked: string[] = []
  const r = await startResponder({ 'challenge-dir': dir, master: ['www.example.com'] }, '127.0.0.1', (rt) => ({
    ...rt, tokens: { sync: rt.tokens.sync, lookup: (token: string) => { looked.push(token); return rt.tokens.lookup(token) } }
  }))
  t.after(() => r.close())
  const targets = [
    '../secret', '..%2fsecret', '%2e%2e/secret', '%2e%2e%2fsecret', '%252e%252e%252fsecret', '..\\secret', '..%5csecret',
    '%c0%ae%c0%ae%c0%afsecret', '%e0%80%ae%e0%80%ae/secret', '.%2e/secret', 'ok/../../secret', 'ok%00', 'ok%00.txt',
    '..;/secret', '....//secret', '%uff0e%uff0e/secret', '/../secret', '%zz', '%', 'ok%'
  ]
  for (const target of targets) {
    const res = await raw(r, `GET ${P}${target} HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n`)
    assert.ok([400, 404].includes(statusOf(res)), `${target}: ${res.slice(0, 40)}`)
    assert.ok(!res.includes(SECRET), target)
    assert.ok(!res.includes('fine'), target)
  }
  for (const target of [`//${P}../secret`, '/.well-known/acme-challenge/../../secret', `http://www.example.com${P}..%2fsecret`]) {
    const res = await raw(r, `GET ${target} HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n`)
    assert.ok([400, 404, 503].includes(statusOf(res)), target)
    assert.ok(!res.includes(SECRET), target)
  }
  // None of them reached the file system.
  assert.deepEqual(looked, [])
  // A raw NUL or control byte in the target is refused by the parser.
  const nul = await raw(r, Buffer.from(`GET ${P}ok\0 HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'))
  assert.equal(statusOf(nul), 400)
  // Invalid tokens never reach a redirect either: no open redirect.
  const red = await raw(r, `GET ${P}..%2f..%2fevil HTTP/1.1\r\nHost: mail.example.com\r\nConnection: close\r\n\r\n`)
  assert.equal(statusOf(red), 404)
  assert.ok(!/location:/i.test(red))
  assert.equal((await get(r, P + 'ok', { host: 'www.example.com' })).text, 'fine')
  assert.deepEqual(looked, ['ok'])
})

test('unusable token files are refused with 500 and an error naming the file, never followed or blocking', async (t) => {
  const root = tempDir(t)
  const dir = join(root, 'challenges')
  mkdirSync(dir)
  writeFileSync(join(root, 'secret'), SECRET)
  symlinkSync(join(root, 'secret'), join(dir, 'link'))
  symlinkSync('/dev/zero', join(dir, 'zero'))
  mkdirSync(join(dir, 'adir'))
  execFileSync('mkfifo', [join(dir, 'fifo')])
  writeFileSync(join(dir, 'big'), 'x'.repeat(4097))
  writeFileSync(join(dir, 'huge'), Buffer.alloc(8 * 1024 * 1024, 'y'))
  writeFileSync(join(dir, 'edge'), 'e'.repeat(4096))
  writeFileSync(join(dir, 'long'), 'l'.repeat(200))
  const sock = createServer()
  await new Promise<void>((resolve) => sock.listen(join(dir, 'sock'), resolve))
  t.after(() => sock.close())
  const r = await startResponder({ 'challenge-dir': dir, master: ['www.example.com'] })
  t.after(() => r.close())

  const expect: Record<string, RegExp> = {
    link: /symbolic link/, zero: /symbolic link/, adir: /directory/, fifo: /FIFO/, big: /over the 4096-byte cap/, huge: /over the 4096-byte cap/, sock: /socket/
  }
  for (const [token, why] of Object.entries(expect)) {
    // The secondary's Host: an unusable local file must not silently turn into a redirect either.
    const res = await get(r, P + token, { host: 'mail.example.com' })
    assert.equal(res.status, 500, token)
    assert.ok(!res.text.includes(SECRET) && !res.text.includes('xxxx') && !res.text.includes('yyyy'), token)
    const err = r.logs.find((l) => l.token === token && l.level === 50)
    assert.match(String(err?.why), why, token)
    assert.equal(err?.file, join(dir, token))
  }
  assert.equal((await get(r, P + 'edge', { host: 'x' })).text.length, 4096)
  assert.equal((await get(r, P + 'long', { host: 'x' })).status, 200)
  assert.match(String(r.logs.find((l) => l.token === 'long' && l.level === 40)?.msg), /Boulder rejects bodies of 128 bytes/)

  // A FIFO with no writer must not block the event loop: many at once, and others still answered.
  const fifoHits = Array.from({ length: 20 }, () => get(r, P + 'fifo', { host: 'x' }))
  assert.equal((await get(r, '/', { host: 'x' })).status, 503)
  for (const res of await Promise.all(fifoHits)) assert.equal(res.status, 500)
})

test('an unreadable token file is refused', async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'locked'), 'x')
  chmodSync(join(dir, 'locked'), 0)
  if (process.getuid?.() !== 0) {
    const r = await startResponder({ 'challenge-dir': dir })
    t.after(() => r.close())
    assert.equal((await get(r, P + 'locked', { host: 'x' })).status, 500)
    assert.match(String(r.logs.find((l) => l.token === 'locked' && l.level === 50)?.why), /not readable/)
    return
  }
  // Root reads every file: run the responder as nobody to see the refusal.
  const cli = await startCli(['--listen', '127.0.0.12:0', '--challenge-dir', dir], {}, { uid: 65534, gid: 65534 })
  t.after(() => cli.child.kill('SIGKILL'))
  assert.equal((await get({ port: cli.port, host: '127.0.0.12' }, P + 'locked', { host: 'x' })).status, 500)
  const line = await cli.line((l) => l.token === 'locked' && l.level === 50)
  assert.match(String(line.why), /not readable/)
})

test('malformed, oversized and smuggling requests get a 4xx and the server lives on', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'ok'), 'fine')
  const r = await startResponder({ 'challenge-dir': dir, 'max-header-size': '2048' })
  t.after(() => r.close())
  const cases: Array<[string, number[]]> = [
    ['GARBAGE\r\n\r\n', [400]],
    ['GET / HTTP/9.9\r\nHost: x\r\n\r\n', [400, 505]],
    ['GET /\r\n\r\n', [400]],
    [`GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(4000)}\r\n\r\n`, [431]],
    ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', [400]],
    ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', [400]],
    ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', [400, 503]],
    ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n', [400]],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', [400]],
    [`GET ${P}ok HTTP/1.1\r\nHost : x\r\n\r\n`, [400]],
    ['GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n', [400]]
  ]
  for (const [req, statuses] of cases) {
    const res = await raw(r, req)
    assert.ok(statuses.includes(statusOf(res)), `${JSON.stringify(req.slice(0, 60))} → ${res.slice(0, 40)}`)
  }
  // A huge Content-Length is answered without waiting for the body, and the connection is closed.
  const huge = await raw(r, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n')
  assert.equal(statusOf(huge), 503)
  assert.match(huge, /connection: close/i)
  // A second request smuggled behind a chunked body is not answered as a token request.
  const smuggle = await raw(r, `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET ${P}ok HTTP/1.1\r\nHost: x\r\n\r\n`)
  assert.ok(!smuggle.includes('fine'))
  assert.equal((await get(r, P + 'ok', { host: 'x' })).text, 'fine')
})

test('a failure inside the responder answers 500 and the process lives on', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'ok'), 'fine')
  let mode: 'throw' | 'reject' | 'normal' = 'throw'
  const r = await startResponder({ 'challenge-dir': dir }, '127.0.0.1', (rt) => ({
    ...rt,
    // The maintenance answer blows up while the mode says so: a bug outside the token path.
    answers: { ...rt.answers, of: (reply: Reply) => { if (mode === 'throw' && reply.kind === 'fixed' && reply.name === 'maintenance') throw new Error('bug'); return rt.answers.of(reply) } },
    tokens: {
      sync: true,
      lookup: (token: string) => {
        if (mode === 'throw') throw new Error('disk on fire')
        if (mode === 'reject') return Promise.reject(new Error('disk on fire'))
        return rt.tokens.lookup(token)
      }
    }
  }))
  t.after(() => r.close())
  assert.equal((await get(r, P + 'ok', { host: 'x' })).status, 500)
  assert.equal((await get(r, '/', { host: 'x' })).status, 500)
  mode = 'reject'
  assert.equal((await get(r, P + 'ok', { host: 'x' })).status, 500)
  mode = 'normal'
  assert.equal((await get(r, P + 'ok', { host: 'x' })).text, 'fine')
  assert.equal((await get(r, '/', { host: 'x' })).status, 503)
  assert.ok(r.logs.some((l) => l.level === 50 && l.msg === 'unexpected error answering a request'))
  assert.ok(r.logs.some((l) => l.level === 50 && l.msg === 'unexpected error answering a challenge'))
})
