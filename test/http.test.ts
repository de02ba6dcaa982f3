// Every row of the request table, over real sockets, against a responder on 127.0.0.x port 0.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { get, raw, startResponder, statusOf, tempDir } from './helpers.js'

const T = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0'
const KA = `${T}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`
const P = '/.well-known/acme-challenge/'

test('request table', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, T), KA)
  const r = await startResponder({ 'challenge-dir': dir, master: ['www.example.com'], alias: ['mysql.example.com'] }, '127.0.0.2')
  t.after(() => r.close())

  await t.test('token file → 200 with its exact bytes and the right headers', async () => {
    const res = await get(r, P + T, { host: 'mail.example.com' })
    assert.equal(res.status, 200)
    assert.equal(res.text, KA)
    assert.equal(res.headers['content-type'], 'application/jose+json')
    assert.equal(res.headers['content-length'], String(KA.length))
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    const log = r.logs.find((l) => l.msg === 'challenge request' && l.token === T)
    assert.equal(log?.outcome, 'served')
    assert.equal(log?.status, 200)
    assert.equal(log?.host, 'mail.example.com')
    assert.equal(log?.remote, '127.0.0.1')
    assert.equal(typeof log?.ms, 'number')
  })

  await t.test('HEAD → same headers, no body', async () => {
    const res = await raw(r, `HEAD ${P}${T} HTTP/1.1\r\nHost: mail.example.com\r\nConnection: close\r\n\r\n`)
    assert.equal(statusOf(res), 200)
    assert.match(res, new RegExp(`content-length: ${KA.length}`, 'i'))
    assert.ok(res.endsWith('\r\n\r\n'), 'no body after the headers')
  })

  await t.test('missing token on a secondary → 302 to the master', async () => {
    const res = await get(r, `${P}missing?x=y`, { host: 'mail.example.com' })
    assert.equal(res.status, 302)
    assert.equal(res.headers.location, `http://www.example.com${P}missing`)
    assert.equal(res.headers['cache-control'], 'no-store')
  })

  await t.test('missing token with the master\'s or an alias\'s Host → 404 JSON, never a loop', async () => {
    for (const host of ['www.example.com', 'WWW.Example.com:80.', 'www.example.com.', 'MYSQL.example.com:80']) {
      const res = await get(r, `${P}missing`, { host })
      assert.equal(res.status, 404, host)
      assert.equal(res.headers['content-type'], 'application/json')
      assert.equal(JSON.parse(res.text).error, 'challenge token not found')
    }
  })

  await t.test('invalid token → 404 JSON', async () => {
    const res = await get(r, `${P}a.b`, { host: 'mail.example.com' })
    assert.equal(res.status, 404)
    assert.equal(JSON.parse(res.text).error, 'not a valid challenge token')
  })

  await t.test('other methods on the challenge path → 405 with Allow', async () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const res = await get(r, P + T, { host: 'mail.example.com' }, m)
      assert.equal(res.status, 405, m)
      assert.equal(res.headers.allow, 'GET, HEAD')
    }
  })

  await t.test('every other path and method → the maintenance page', async () => {
    for (const [m, p] of [['GET', '/'], ['POST', '/login'], ['GET', '/.well-known/other'], ['DELETE', '/x?y']] as const) {
      const res = await get(r, p, { host: 'www.example.com' }, m)
      assert.equal(res.status, 503, `${m} ${p}`)
      assert.equal(res.headers['retry-after'], '3600')
      assert.equal(res.headers['cache-control'], 'no-store')
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
      assert.match(res.text, /closed/i)
    }
    const head = await raw(r, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.equal(statusOf(head), 503)
    assert.ok(head.endsWith('\r\n\r\n'))
  })

  await t.test('Host missing, duplicated or malformed → 400', async () => {
    assert.equal(statusOf(await raw(r, `GET ${P}${T} HTTP/1.1\r\n\r\n`)), 400)
    assert.equal(statusOf(await raw(r, `GET ${P}${T} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`)), 400)
    assert.equal(statusOf(await raw(r, 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n')), 400)
    // HTTP/1.0 may omit Host.
    assert.equal(statusOf(await raw(r, `GET ${P}${T} HTTP/1.0\r\n\r\n`)), 200)
  })

  await t.test('absolute-form target uses its own authority', async () => {
    const res = await raw(r, `GET http://www.example.com${P}missing HTTP/1.1\r\nHost: mail.example.com\r\nConnection: close\r\n\r\n`)
    assert.equal(statusOf(res), 404)
    const res2 = await raw(r, `GET http://mail.example.com${P}missing HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n`)
    assert.equal(statusOf(res2), 302)
  })

  await t.test('a token written now is served at once; a removed one never again', async () => {
    const { rmSync } = await import('node:fs')
    const fresh = 'fresh_' + Date.now()
    assert.equal((await get(r, P + fresh, { host: 'www.example.com' })).status, 404)
    writeFileSync(join(dir, fresh), 'v1')
    assert.equal((await get(r, P + fresh, { host: 'www.example.com' })).text, 'v1')
    writeFileSync(join(dir, fresh), 'v2')
    assert.equal((await get(r, P + fresh, { host: 'www.example.com' })).text, 'v2')
    rmSync(join(dir, fresh))
    assert.equal((await get(r, P + fresh, { host: 'www.example.com' })).status, 404)
  })
})

test('configurable answers: redirect status, content type, maintenance page, status and Retry-After', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, T), KA)
  const page = join(dir, 'page.html')
  writeFileSync(page, '<h1>Back soon</h1>')
  const r = await startResponder({
    'challenge-dir': dir,
    master: ['https://acme.example.com:8443'],
    'redirect-status': '308',
    'content-type': 'application/octet-stream',
    'maintenance-page': page,
    'maintenance-status': '502',
    'retry-after': '60'
  })
  t.after(() => r.close())
  const tok = await get(r, P + T, { host: 'x' })
  assert.equal(tok.headers['content-type'], 'application/octet-stream')
  const red = await get(r, `${P}nope`, { host: 'x' })
  assert.equal(red.status, 308)
  assert.equal(red.headers.location, `https://acme.example.com:8443${P}nope`)
  const m = await get(r, '/', { host: 'x' })
  assert.equal(m.status, 502)
  assert.equal(m.headers['retry-after'], '60')
  assert.equal(m.text, '<h1>Back soon</h1>')
})

test('without a master every missing token is a 404', async (t) => {
  const dir = tempDir(t)
  const r = await startResponder({ 'challenge-dir': dir })
  t.after(() => r.close())
  const res = await get(r, `${P}nope`, { host: 'anything.example.org' })
  assert.equal(res.status, 404)
})

test('a missing challenge directory only means every token is missing', async (t) => {
  const dir = tempDir(t)
  const r = await startResponder({ 'challenge-dir': join(dir, 'does-not-exist'), master: ['www.example.com'] })
  t.after(() => r.close())
  assert.equal((await get(r, `${P}${T}`, { host: 'mail.example.com' })).status, 302)
})

test('IPv6: a [::1] listener answers, and an IPv6 Host is matched like any other', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, T), KA)
  const r = await startResponder({ 'challenge-dir': dir, master: ['http://[::1]:8080'] }, '::1')
  t.after(() => r.close())
  assert.equal((await get(r, P + T, { host: '[::1]' })).text, KA)
  const red = await get(r, `${P}missing`, { host: 'mail.example.com' })
  assert.equal(red.headers.location, `http://[::1]:8080${P}missing`)
  assert.equal((await get(r, `${P}missing`, { host: '[::1]:80' })).status, 404, 'the master\'s own IPv6 Host is never redirected')
  assert.equal(r.logs.find((l) => l.outcome === 'served')?.remote, '::1')
})
