// The upstream queue's fairness with IPv6 networks (loopback has no /48s to send from), and the keys.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clientKey, networkKey } from '../src/serve/client-budget.js'
import { createFairQueue } from '../src/serve/fair-queue.js'

test('client and network keys: IPv4 address and /24, IPv6 /64 and /48, mapped and zoned forms', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7')
  assert.equal(networkKey('192.0.2.7'), '192.0.2.0/24')
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7')
  assert.equal(networkKey('::FFFF:192.0.2.7'), '192.0.2.0/24')
  assert.equal(clientKey('2001:db8:0:1::5'), '2001:db8:0:1::/64')
  assert.equal(networkKey('2001:db8:0:1::5'), '2001:db8:0::/48')
  assert.equal(networkKey('2001:0db8:0000:ffff:1:2:3:4%eth0'), '2001:db8:0::/48')
  assert.equal(clientKey('::1'), '0:0:0:0::/64')
  assert.equal(clientKey(undefined), '?')
})

/** A job that ends when the test says so (at once when it starts, if the test said so before). */
function held (): { job: () => Promise<string>, started: boolean, end: () => void } {
  let ended = false
  let finish = (): void => {}
  const h = {
    started: false,
    end: () => { ended = true; finish() },
    job: () => {
      h.started = true
      return new Promise<string>((resolve) => {
        finish = () => resolve('done')
        if (ended) finish()
      })
    }
  }
  return h
}

test('64 /64s of one /48 fill the slots; the next free slot goes to a newcomer from another /48', async () => {
  const q = createFairQueue({ slots: 4, perClient: 2, waiting: 256 })
  const flood = Array.from({ length: 128 }, () => held())
  const results = flood.map((h, i) => {
    const a = `2001:db8:1:${(i % 64).toString(16)}::1`
    return q.run({ client: clientKey(a), network: networkKey(a) }, h.job)
  })
  assert.equal(flood.filter((h) => h.started).length, 4)
  const ca = held()
  const caResult = q.run({ client: clientKey('2001:db8:2:1::7'), network: networkKey('2001:db8:2:1::7') }, ca.job)
  assert.equal(ca.started, false, 'it waits for a slot')
  flood.find((h) => h.started)?.end()
  await new Promise(setImmediate)
  assert.equal(ca.started, true, 'the first slot to free is the newcomer\'s')
  ca.end()
  assert.equal(await caResult, 'done')
  for (const h of flood) h.end()
  assert.deepEqual(new Set(await Promise.all(results)), new Set(['done']))
})

test('a client past its share is refused; a full queue pushes out a fetch of the network waiting most, from its client holding most', async () => {
  const q = createFairQueue({ slots: 1, perClient: 2, waiting: 3 })
  const origin = (a: string): { client: string, network: string } => ({ client: clientKey(a), network: networkKey(a) })
  const first = held()
  const running = q.run(origin('192.0.2.1'), first.job)
  const own = held()
  const queued = q.run(origin('192.0.2.1'), own.job)
  assert.equal(await q.run(origin('192.0.2.1'), held().job), 'busy', 'a third from one client')
  const a = held()
  const b = held()
  const fromA = q.run(origin('192.0.2.2'), a.job)
  const fromB = q.run(origin('192.0.2.3'), b.job)
  // The queue (3) is full: a fourth waiting, from another network, pushes out a fetch of 192.0.2.0/24
  // (three waiting), of its client holding most (192.0.2.1: one running, one waiting).
  const c = held()
  const fromC = q.run(origin('198.51.100.1'), c.job)
  assert.equal(await queued, 'busy')
  for (const h of [first, a, b, c]) h.end()
  assert.deepEqual(await Promise.all([running, fromA, fromB, fromC]), ['done', 'done', 'done', 'done'])
  assert.equal(own.started, false)
})
