// Unit tests of the pure core: target parsing, Host matching and the decision table.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildConfig } from '../src/config/config.js'
import { decide, policyFromConfig, type RequestFacts } from '../src/core/decide.js'
import { parseHostHeader } from '../src/core/host.js'
import { parseTarget } from '../src/core/target.js'

const T = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0'
const P = '/.well-known/acme-challenge/'

function facts (over: Partial<RequestFacts>): RequestFacts {
  return { method: 'GET', target: P + T, hostHeaders: ['mail.example.com'], httpVersion: '1.1', forwarded: false, ...over }
}

const secondary = policyFromConfig(buildConfig({ master: ['www.example.com'], alias: ['mysql.example.com'] }, 'linux'))
const master = policyFromConfig(buildConfig({}, 'linux'))

test('a valid token is read from the raw target; query strings are ignored', () => {
  assert.deepEqual(parseTarget(P + T), { kind: 'challenge', token: T, authority: undefined })
  assert.deepEqual(parseTarget(P + T + '?x=1'), { kind: 'challenge', token: T, authority: undefined })
  assert.deepEqual(parseTarget(P + T + '#f'), { kind: 'challenge', token: T, authority: undefined })
  assert.deepEqual(parseTarget(P + T + '?'), { kind: 'challenge', token: T, authority: undefined })
  // The longest token there is, and one character more, with or without a query after it.
  const tokenOf = (raw: string): string | undefined => { const t = parseTarget(raw); return t.kind === 'challenge' ? t.token : 'not a challenge' }
  assert.equal(tokenOf(P + 'x'.repeat(255) + '?q'), 'x'.repeat(255))
  assert.equal(tokenOf(P + 'x'.repeat(256) + '?q'), undefined)
  assert.equal(tokenOf(P + T + '/?q'), undefined)
  assert.deepEqual(parseTarget('/'), { kind: 'other', authority: undefined })
  assert.deepEqual(parseTarget('/index.html?a'), { kind: 'other', authority: undefined })
  // Without its trailing slash the prefix is just another path: the maintenance page, not a 404.
  assert.deepEqual(parseTarget('/.well-known/acme-challenge'), { kind: 'other', authority: undefined })
  assert.deepEqual(parseTarget('/.well-known/acme-challenge?x'), { kind: 'other', authority: undefined })
  assert.deepEqual(parseTarget('/.well-known/acme-challenge/'), { kind: 'challenge', token: undefined, authority: undefined })
})

test('every hostile path class under the challenge prefix is an invalid token', () => {
  const hostile = [
    '../../etc/passwd', '..', '.', '%2e%2e', '%2e%2e%2fetc%2fpasswd', '..%2fetc', '%2E%2E', 'a%00b', 'a\\..\\b',
    '..\\..\\etc', 'a/b', '%c0%ae%c0%ae', '%c0%af', 'tok%20', 'a.b', 'x'.repeat(256), '', '.htaccess', '~root'
  ]
  for (const h of hostile) {
    const t = parseTarget(P + h)
    assert.equal(t.kind, 'challenge', h)
    assert.equal(t.kind === 'challenge' && t.token, undefined, h)
  }
  // Double slashes and encoded prefixes are not the challenge path at all.
  assert.equal(parseTarget('//.well-known/acme-challenge/' + T).kind, 'other')
  assert.equal(parseTarget('/.well-known//acme-challenge/' + T).kind, 'other')
  assert.equal(parseTarget('/.well-known/acme-challenge//' + T).kind, 'challenge')
  assert.equal(parseTarget('/.well-known/%61cme-challenge/' + T).kind, 'other')
})

test('absolute-form targets are understood and their authority replaces Host', () => {
  assert.deepEqual(parseTarget(`http://www.example.com${P}${T}`), { kind: 'challenge', token: T, authority: 'www.example.com' })
  assert.deepEqual(parseTarget(`HTTP://h${P}..%2f`), { kind: 'challenge', token: undefined, authority: 'h' })
  assert.deepEqual(parseTarget('http://h'), { kind: 'other', authority: 'h' })
  assert.equal(parseTarget('ftp://h/x').kind, 'malformed')
  assert.equal(parseTarget('etc/passwd').kind, 'malformed')
  assert.equal(parseTarget('*').kind, 'other')
})

test('Host matching ignores case, port and a trailing dot', () => {
  for (const h of ['www.example.com', 'WWW.Example.COM', 'www.example.com:80', 'www.example.com.', 'WWW.Example.com:80.', 'www.example.com.:8080']) {
    assert.equal(parseHostHeader(h), 'www.example.com', h)
  }
  // Remembered answers are the same answers: again, in another case, and after a flood of new values.
  for (let i = 0; i < 1000; i++) assert.equal(parseHostHeader(`h${i}.example.com`), `h${i}.example.com`)
  for (const h of ['WWW.Example.COM:80', 'www.example.com.', 'www.example.com:80', 'www.example.com:80']) assert.equal(parseHostHeader(h), 'www.example.com', h)
  for (const bad of ['a b', 'a b', 'x:99999', 'x:99999', 'x'.repeat(300), 'x'.repeat(300)]) assert.equal(parseHostHeader(bad), undefined, bad)
  assert.equal(parseHostHeader('[::1]:80'), '[::1]')
  assert.equal(parseHostHeader('127.0.0.1'), '127.0.0.1')
  for (const bad of ['', 'a b', 'evil.com/x', 'a:99999', 'a:b', '[zz]', 'host\\x', 'a..b', '-']) {
    assert.equal(parseHostHeader(bad), undefined, bad)
  }
})

test('decision table', () => {
  const redirect = `http://www.example.com${P}${T}`
  assert.deepEqual(decide(facts({}), secondary), { kind: 'challenge', token: T, host: 'mail.example.com', fallback: { kind: 'redirect', location: redirect } })
  assert.equal(decide(facts({ hostHeaders: ['WWW.Example.com:80.'] }), secondary).kind === 'challenge' &&
    (decide(facts({ hostHeaders: ['WWW.Example.com:80.'] }), secondary) as { fallback: { kind: string } }).fallback.kind, 'not-found')
  const alias = decide(facts({ hostHeaders: ['MySQL.example.com'] }), secondary)
  assert.equal(alias.kind === 'challenge' && alias.fallback.kind, 'not-found')
  const onMaster = decide(facts({}), master)
  assert.equal(onMaster.kind === 'challenge' && onMaster.fallback.kind, 'not-found')
  const forwarded = decide(facts({ forwarded: true }), policyFromConfig(buildConfig({ master: ['w'], mode: 'proxy' }, 'linux')))
  assert.equal(forwarded.kind === 'challenge' && forwarded.fallback.kind, 'not-found')
  const proxied = decide(facts({}), policyFromConfig(buildConfig({ master: ['w'], mode: 'proxy' }, 'linux')))
  assert.equal(proxied.kind === 'challenge' && proxied.fallback.kind, 'proxy')
  assert.deepEqual(decide(facts({ method: 'POST' }), secondary), { kind: 'method-not-allowed' })
  assert.deepEqual(decide(facts({ method: 'HEAD', target: '/' }), secondary), { kind: 'maintenance' })
  assert.deepEqual(decide(facts({ method: 'DELETE', target: '/x' }), secondary), { kind: 'maintenance' })
  assert.deepEqual(decide(facts({ target: P + '..%2f' }), secondary), { kind: 'invalid-token' })
  assert.equal(decide(facts({ hostHeaders: [] }), secondary).kind, 'bad-request')
  assert.equal(decide(facts({ hostHeaders: ['a', 'b'] }), secondary).kind, 'bad-request')
  assert.equal(decide(facts({ hostHeaders: ['a b'] }), secondary).kind, 'bad-request')
  const http10 = decide(facts({ hostHeaders: [], httpVersion: '1.0' }), secondary)
  assert.equal(http10.kind === 'challenge' && http10.fallback.kind, 'redirect')
})

test('the Location carries only configuration and the validated token', () => {
  const p = policyFromConfig(buildConfig({ master: ['https://Master.Example.com:8443/base/'] }, 'linux'))
  const d = decide(facts({ hostHeaders: ['evil.example.net'], target: `${P}${T}?next=http://evil` }), p)
  assert.deepEqual(d.kind === 'challenge' && d.fallback, { kind: 'redirect', location: `https://master.example.com:8443/base${P}${T}` })
})

test('a single account thumbprint answers statelessly; several leave it to the other paths', () => {
  const tp = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
  const one = decide(facts({}), policyFromConfig(buildConfig({ master: ['w'], 'account-thumbprint': [tp] }, 'linux')))
  assert.deepEqual(one.kind === 'challenge' && one.fallback, { kind: 'stateless', body: `${T}.${tp}` })
  const two = decide(facts({}), policyFromConfig(buildConfig({ master: ['w'], 'account-thumbprint': [tp, tp.replace('N', 'M')] }, 'linux')))
  assert.equal(two.kind === 'challenge' && two.fallback.kind, 'redirect')
})
