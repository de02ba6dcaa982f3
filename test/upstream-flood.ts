// The siege issue's upstream flood: one network's clients keep a slow master busy while the CA validates.
// proxy.test.ts runs it over IPv4 in its own process, and over IPv6 as a script in a network namespace.
import { Agent, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatAddress } from '../src/serve/server.js'
import { get, startResponder, waitFor } from './helpers.js'

const P = '/.well-known/acme-challenge/'
const REAL = 'the-real-token-of-this-order'

export interface FloodPlan {
  readonly responder: string
  readonly master: string
  /** 64 client addresses of one network; each runs two keep-alive loops of random tokens. */
  readonly flooders: readonly string[]
  /** The CA's five perspectives for each of two rounds, each from a network of its own. */
  readonly ca: (round: number) => readonly string[]
}

export interface FloodResult {
  /** Per round, the CA's five answers (status and whether the body was the key authorization), or why it gave up. */
  readonly rounds: ReadonlyArray<{ readonly statuses: number[], readonly bodies: boolean[] } | { readonly error: string }>
  /** How the flood's own requests were answered, by status. */
  readonly flood: Record<string, number>
  /**
   * Per round, the flood's fetches that reached the master after the CA had asked and before the CA's
   * last fetch did: the CA's fetches should wait only for those already in flight, not for the queue.
   */
  readonly overtaken: number[]
}

export async function upstreamFlood (plan: FloodPlan): Promise<FloodResult> {
  // A loaded master: 400 ms an answer; 128 fetches wanted at once for 4 slots, 13 s of queue in arrival order.
  let hits = 0
  /** During a round: flood fetches seen since the CA asked, and the CA's fetches still to come. */
  let round: { flood: number, caLeft: number, overtaken: number } | undefined
  const master = createServer((req, res) => {
    hits++
    if (round !== undefined && round.caLeft > 0) {
      if (req.url === P + REAL) {
        if (--round.caLeft === 0) round.overtaken = round.flood
      } else {
        round.flood++
      }
    }
    setTimeout(() => {
      if (req.url === P + REAL) res.end(`${REAL}.thumb`)
      else res.writeHead(404).end()
    }, 400)
  })
  await new Promise<void>((resolve) => master.listen(0, plan.master, resolve))
  const dir = mkdtempSync(join(tmpdir(), 'acme-responder-flood-'))
  const r = await startResponder({ 'challenge-dir': dir, mode: 'proxy', master: [`http://${formatAddress({ host: plan.master, port: (master.address() as AddressInfo).port })}`] }, plan.responder)
  const target = { port: r.port, host: plan.responder }
  const flooding = { on: true }
  const flood: Record<string, number> = {}
  const loops = Promise.all(Array.from({ length: 2 * plan.flooders.length }, async (_, i) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: plan.flooders[i % plan.flooders.length] })
    try {
      while (flooding.on) {
        const a = await get({ ...target, agent }, `${P}flood${i}-${Math.random().toString(36).slice(2)}`, { host: 'x' })
        flood[a.status] = (flood[a.status] ?? 0) + 1
      }
    } finally { agent.destroy() }
  }))
  const rounds: FloodResult['rounds'][number][] = []
  const overtaken: number[] = []
  try {
    await waitFor(() => hits >= 12, 'the flood to fill the upstream slots')
    for (const n of [1, 2]) {
      round = { flood: 0, caLeft: 1, overtaken: -1 }
      try {
        // Let's Encrypt gives up on a request after about 10 s.
        const answers = await Promise.all(plan.ca(n).map((from) => Promise.race([
          get({ ...target, localAddress: from }, P + REAL, { host: 'x' }),
          new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`round ${n}: the CA gave up after 10 s`)), 10_000).unref())
        ])))
        rounds.push({ statuses: answers.map((a) => a.status), bodies: answers.map((a) => a.text === `${REAL}.thumb`) })
      } catch (err) {
        rounds.push({ error: (err as Error).message })
      }
      overtaken.push(round.overtaken)
      round = undefined
    }
  } finally {
    flooding.on = false
    await loops
    await r.close()
    master.closeAllConnections()
    master.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return { rounds, flood, overtaken }
}

// As a script (in a network namespace whose loopback answers for 2001:db8::/32): the IPv6 plan, as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await upstreamFlood({
    responder: '2001:db8:ffff::1',
    master: '2001:db8:ffff::2',
    // 64 /64s of one /58, as the issue tried: one site's addresses.
    flooders: Array.from({ length: 64 }, (_, i) => `2001:db8:1:${i.toString(16)}::1`),
    // Each perspective from a /48 of its own.
    ca: (round) => [0x21, 0x22, 0x23, 0x24, 0x25].map((n) => `2001:db8:${n.toString(16)}::${round}`)
  })
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}
