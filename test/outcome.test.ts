// The core's outcome step as pure functions: decision + lookup (+ fetch) → what to answer and log.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Decision, Fallback } from '../src/core/decide.js'
import { afterFetch, afterLookup, BOULDER_BODY_LIMIT, settled, type Challenge } from '../src/core/outcome.js'

const challenge = (fallback: Fallback): Challenge => ({ kind: 'challenge', token: 'tok', host: 'mail.example.com', fallback })
const notFound: Fallback = { kind: 'not-found' }

test('decisions without a lookup: maintenance and bad requests are counted, the others logged', () => {
  const cases: Array<[Exclude<Decision, Challenge>, string, string, string]> = [
    [{ kind: 'maintenance' }, 'maintenance', 'maintenance', 'count'],
    [{ kind: 'bad-request', reason: 'x' }, 'bad-request', 'badRequest', 'count'],
    [{ kind: 'method-not-allowed' }, 'method-not-allowed', 'methodNotAllowed', 'line'],
    [{ kind: 'invalid-token' }, 'invalid-token', 'invalidToken', 'line']
  ]
  for (const [d, outcome, fixed, log] of cases) {
    const o = settled(d)
    assert.deepEqual([o.outcome, o.reply, o.log, o.level], [outcome, { kind: 'fixed', name: fixed }, log, 'info'])
  }
})

test('a found token is served, a warning at Boulder\'s body limit', () => {
  const small = afterLookup(challenge(notFound), { kind: 'found', body: Buffer.from('tok.thumb') })
  assert.ok(small !== 'proxy')
  assert.deepEqual([small.outcome, small.reply, small.level], ['served', { kind: 'token', body: Buffer.from('tok.thumb') }, 'info'])
  const big = afterLookup(challenge(notFound), { kind: 'found', body: Buffer.alloc(BOULDER_BODY_LIMIT, 'a') })
  assert.ok(big !== 'proxy')
  assert.equal(big.level, 'warn')
  assert.match(big.msg, /Boulder rejects bodies of 128 bytes or more/)
})

test('an unusable file is a 500 and an error naming the file, whatever the fallback', () => {
  for (const fb of [notFound, { kind: 'proxy' } as const, { kind: 'redirect', location: 'http://m/x' } as const]) {
    const o = afterLookup(challenge(fb), { kind: 'unusable', file: '/d/tok', why: 'is a FIFO' })
    assert.ok(o !== 'proxy')
    assert.deepEqual([o.outcome, o.reply, o.level, o.msg], ['unusable', { kind: 'fixed', name: 'unusable' }, 'error', 'refusing token file /d/tok: it is a FIFO'])
  }
})

test('a missing file takes the fallback: redirect, stateless, 404, or the masters', () => {
  const missing = { kind: 'missing' } as const
  const red = afterLookup(challenge({ kind: 'redirect', location: 'http://m/.well-known/acme-challenge/tok' }), missing)
  assert.ok(red !== 'proxy')
  assert.deepEqual([red.outcome, red.reply], ['redirected', { kind: 'redirect', location: 'http://m/.well-known/acme-challenge/tok' }])
  const sl = afterLookup(challenge({ kind: 'stateless', body: 'tok.tp' }), missing)
  assert.ok(sl !== 'proxy')
  assert.deepEqual([sl.outcome, sl.reply], ['stateless', { kind: 'token', body: Buffer.from('tok.tp') }])
  const nf = afterLookup(challenge(notFound), missing)
  assert.ok(nf !== 'proxy')
  assert.deepEqual([nf.outcome, nf.reply], ['not-found', { kind: 'fixed', name: 'notFound' }])
  assert.equal(afterLookup(challenge({ kind: 'proxy' }), missing), 'proxy')
})

test('the masters\' answer: relayed, unanimous 404, unreachable with a warning, or a busy client', () => {
  const ok = afterFetch({ kind: 'found', body: Buffer.from('b'), master: 'http://m2', tries: [{ master: 'http://m1', ms: 3, result: 'timeout after 2000 ms' }, { master: 'http://m2', ms: 1, result: '200' }] })
  assert.deepEqual([ok.outcome, ok.reply, ok.level, ok.msg], ['proxied', { kind: 'token', body: Buffer.from('b') }, 'warn', 'master http://m1 failed: timeout after 2000 ms'])
  const nf = afterFetch({ kind: 'not-found', tries: [{ master: 'http://m1', ms: 1, result: '404' }] })
  assert.deepEqual([nf.outcome, nf.reply, nf.level], ['not-found', { kind: 'fixed', name: 'notFound' }, 'info'])
  const down = afterFetch({ kind: 'unreachable', tries: [{ master: 'http://m1', ms: 1, result: 'ECONNREFUSED' }] })
  assert.deepEqual([down.outcome, down.reply, down.level], ['unreachable', { kind: 'fixed', name: 'badGateway' }, 'warn'])
  const busy = afterFetch({ kind: 'busy' })
  assert.deepEqual([busy.outcome, busy.reply], ['too-many', { kind: 'fixed', name: 'tooMany' }])
})
