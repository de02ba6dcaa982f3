// The CA gets through a siege: idle, slowloris and keep-alive floods from one address or many, against a full table.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { get, startCli, tempDir, waitFor, type Reply } from './helpers.js'
import { addresses, siege, type AttackKind } from './siege.js'

const P = '/.well-known/acme-challenge/'
const HOST = '127.0.9.1'
/** The CA's primary and four remote perspectives: five addresses of their own. */
const CA = addresses(10, 5)

/** One request, failed after 10 s (the validator's own bound is about that). */
async function within10s (p: Promise<Reply>): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000) })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

async function responder (t: { after: (fn: () => unknown) => void }, extra: string[] = []): Promise<{ port: number, token: string, body: string }> {
  const dir = tempDir(t)
  const token = randomBytes(32).toString('base64url')
  const body = `${token}.${randomBytes(32).toString('base64url')}`
  writeFileSync(join(dir, token), body)
  // As a secondary holding the token (the master's files, synced or shared), at a cap of 200.
  const cli = await startCli(['--listen', `${HOST}:0`, '--challenge-dir', dir, '--master', 'www.example.com', '--max-connections', '200', ...extra])
  t.after(() => cli.child.kill('SIGKILL'))
  return { port: cli.port, token, body }
}

const SIEGES: Array<[AttackKind, 'one address' | '50 addresses']> = [
  ['idle', 'one address'], ['slowloris', 'one address'], ['keep-alive', 'one address'],
  ['idle', '50 addresses'], ['slowloris', '50 addresses'], ['keep-alive', '50 addresses']
]

for (const [kind, where] of SIEGES) {
  test(`${kind} siege from ${where}, 300 connections against a cap of 200: every request of three 5-perspective validations is answered`, async (t) => {
    const r = await responder(t)
    const from = where === 'one address' ? ['127.0.11.1'] : addresses(12, 50)
    const attack = siege({ port: r.port, host: HOST, kind, connections: 300, from, everyMs: 500 })
    t.after(() => attack.stop())
    // Full: 300 connections against 200 places means the server has closed at least 100 of them.
    await waitFor(() => attack.closed >= 100, 'the table to be full and evicting', 30_000, () => ` (open ${attack.open}, closed ${attack.closed})`)
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(CA.map((a) => within10s(get({ host: HOST, port: r.port, localAddress: a }, P + r.token, { host: 'mail.example.com' }))))
      assert.deepEqual(answers.map((a) => [a.status, a.text]), CA.map(() => [200, r.body]), `round ${round + 1}`)
    }
  })
}

test('a client at its own cap pays with its own connections: another client\'s keep-alive connections stay and are reused', async (t) => {
  const r = await responder(t, ['--max-connections-per-client', '20', '--keep-alive-timeout', '60000'])
  // A legitimate browser: five keep-alive connections, used once before the flood and once after.
  const agent = new Agent({ keepAlive: true, maxSockets: 5, localAddress: '127.0.13.1' })
  t.after(() => agent.destroy())
  const five = (): Promise<boolean[]> => Promise.all(Array.from({ length: 5 }, () => new Promise<boolean>((resolve, reject) => {
    const req = request({ host: HOST, port: r.port, path: '/', agent, headers: { host: 'www.example.com' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(req.reusedSocket))
    })
    req.on('error', reject)
    req.end()
  })))
  await five()
  const attack = siege({ port: r.port, host: HOST, kind: 'idle', connections: 300, from: ['127.0.11.1'], everyMs: 500 })
  t.after(() => attack.stop())
  await waitFor(() => attack.closed >= 500, 'the attacker to churn through its own cap', 30_000, () => ` (open ${attack.open}, closed ${attack.closed})`)
  assert.deepEqual(await five(), [true, true, true, true, true], 'the browser\'s connections were kept and reused')
})
