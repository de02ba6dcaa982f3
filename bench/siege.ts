// The siege section of the bench: 12,000 attacker connections of each kind, and the CA validating meanwhile.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'node:http'
import { createInterface } from 'node:readline'
import { addresses } from '../test/siege.js'
import { freePort } from '../test/ports.js'
import { acmeResponder, KEY_AUTH, nginx, rssKb, TOKEN, waitUp, type Served } from './servers.js'

const P = '/.well-known/acme-challenge/'
const CONNECTIONS = 12_000
/** The CA's primary and four remote perspectives, each a fresh connection from its own address. */
const CA = addresses(10, 5)

interface Attack { readonly name: string, readonly kind?: 'idle' | 'slowloris' | 'keep-alive' | 'wrk', readonly from?: string[] }
export const ATTACKS: Attack[] = [
  { name: 'none' },
  { name: 'one address, connections that send nothing (reopened when closed)', kind: 'idle', from: ['127.0.11.1'] },
  { name: 'one address, slowloris (a header line every 2 s, never finishing)', kind: 'slowloris', from: ['127.0.11.1'] },
  { name: 'one address, keep-alive connections asking for `/` every 4 s', kind: 'keep-alive', from: ['127.0.11.1'] },
  { name: '250 addresses, connections that send nothing', kind: 'idle', from: addresses(12, 250) },
  { name: '250 addresses, slowloris', kind: 'slowloris', from: addresses(12, 250) },
  { name: 'one address, wrk -c256 flood of `/` and random tokens', kind: 'wrk' }
]

export interface SiegeRow { readonly ok: number, readonly asked: number, readonly p50ms: number, readonly p99ms: number, readonly peakKb: number }

/** One request as the validator makes it: a fresh connection, the token, 10 s at most. */
function validate (port: number, from: string): Promise<number | undefined> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: P + TOKEN, agent: false, localAddress: from, headers: { host: 'mail.example.com' }, timeout: 10_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve(res.statusCode === 200 && body === KEY_AUTH ? performance.now() - t0 : undefined))
      res.on('error', () => resolve(undefined))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
    req.end()
  })
}

/** Starts the attack; resolves once every connection was opened at least once (or 30 s passed). */
async function attack (port: number, a: Attack, luaFile: string): Promise<ChildProcess | undefined> {
  if (a.kind === undefined) return undefined
  if (a.kind === 'wrk') {
    return spawn('wrk', ['-t1', '-c256', '-d600s', '-s', luaFile, `http://127.0.0.1:${port}/`], { stdio: 'ignore' })
  }
  const child = spawn(process.execPath, [new URL('attacker.js', import.meta.url).pathname, String(port), a.kind, String(CONNECTIONS), (a.from ?? []).join(',')], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const deadline = Date.now() + 30_000
  for await (const line of lines) {
    const s = JSON.parse(line) as { opened: number }
    if (s.opened >= CONNECTIONS || Date.now() > deadline) break
  }
  // Keep reading its reports, or its stdout fills and it stops.
  child.stdout?.resume()
  return child
}

const pct = (xs: number[], p: number): number => xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN

/** One row for one server: a fresh server, the attack, then the CA validating every 500 ms for `seconds`. */
export async function siegeRow (start: (port: number) => Served, a: Attack, seconds: number, luaFile: string): Promise<SiegeRow> {
  const port = await freePort()
  const s = start(port)
  await waitUp(port, P + TOKEN, 200)
  const attacker = await attack(port, a, luaFile)
  // The table filling takes a moment after the last connect: let the attack settle in.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const asked: Array<Promise<number | undefined>> = []
  for (let i = 0; i < seconds * 2; i++) {
    asked.push(...CA.map((from) => validate(port, from)))
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  const times = (await Promise.all(asked)).filter((t): t is number => t !== undefined)
  const peakKb = rssKb(s.pid, 'VmHWM')
  attacker?.kill('SIGTERM')
  s.stop()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return { ok: times.length, asked: asked.length, p50ms: pct(times, 0.5), p99ms: pct(times, 0.99), peakKb }
}

/** wrk's script for the flood: `/` and random tokens, in turn. */
export const FLOOD_LUA = `
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then return wrk.format("GET", "/") end
  return wrk.format("GET", "${P}" .. string.format("%x%x", math.random(0, 2^30), n))
end
`

export const SIEGE_SERVERS = ['acme-responder', 'nginx 1 worker'] as const
export type SiegeServer = typeof SIEGE_SERVERS[number]

/**
 * One row for one server, in a work directory laid out as bench.ts makes it (webroot/.well-known/…, the
 * token in it): acme-responder with its defaults, nginx with 1 worker and 8,192 worker_connections.
 */
export async function siegeCell (server: SiegeServer, a: Attack, seconds: number, work: string): Promise<SiegeRow> {
  const webroot = join(work, 'webroot')
  const dir = join(webroot, '.well-known', 'acme-challenge')
  const lua = join(work, 'flood.lua')
  writeFileSync(lua, FLOOD_LUA)
  const start = server === 'acme-responder'
    ? (port: number) => acmeResponder(port, dir, ['--log-level', 'warn'])
    : (port: number) => {
        const d = join(work, `nginx-siege-${process.pid}-${Date.now()}`)
        mkdirSync(d)
        return nginx(port, webroot, d, 8192)
      }
  return await siegeRow(start, a, seconds, lua)
}
