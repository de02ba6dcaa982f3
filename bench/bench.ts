// npm run bench [-- --quick]: acme-responder against nginx (1 worker) and a constant node:http server,
// same core, same load, interleaved rounds; prints a table and writes bench/results/.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../test/ports.js'
import { wrk, type Load } from './load.js'
import { acmeResponder, ceiling, has, KEY_AUTH, NODE, nginx, rssKb, status, TOKEN, waitUp, type Served } from './servers.js'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3
const SECONDS = quick ? 2 : 5
const P = '/.well-known/acme-challenge/'

interface Answer { name: string, path: string, host: string, check: (r: { status: number, body: string, location?: string }) => boolean, expectNon2xx: boolean }
const ANSWERS: Answer[] = [
  { name: 'token 200', path: P + TOKEN, host: 'www.example.com', check: (r) => r.status === 200 && r.body === KEY_AUTH, expectNon2xx: false },
  { name: 'redirect 302', path: `${P}missing`, host: 'mail.example.com', check: (r) => r.status === 302 && r.location === `http://www.example.com${P}missing`, expectNon2xx: false },
  { name: 'maintenance 503', path: '/', host: 'www.example.com', check: (r) => r.status === 503, expectNon2xx: true }
]

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

function ensure (pkg: string, cmd: string): boolean {
  if (has(cmd)) return true
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync('sh', ['-c', `apt-get install -y -qq --no-install-recommends ${pkg} >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends ${pkg} >/dev/null)`])
  } catch {}
  return has(cmd)
}

async function startup (dir: string): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < 5; i++) {
    const port = await freePort()
    const t0 = performance.now()
    const s = acmeResponder(port, dir)
    await waitUp(port, P + TOKEN, 200)
    times.push(performance.now() - t0)
    s.stop()
  }
  return median(times)
}

/** Opens n keep-alive connections, each answered once, and keeps them open. */
async function idleConnections (port: number, n: number): Promise<{ sockets: Socket[], answered: number }> {
  const sockets: Socket[] = []
  let answered = 0
  for (let i = 0; i < n; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write(`GET ${P}${TOKEN} HTTP/1.1\r\nHost: www.example.com\r\n\r\n`))
      s.on('error', () => resolve())
      s.once('data', (d: Buffer) => { if (d.toString().includes(KEY_AUTH)) answered++; resolve() })
      sockets.push(s)
    })))
  }
  return { sockets, answered }
}

async function main (): Promise<void> {
  if (!ensure('wrk', 'wrk')) throw new Error('wrk is needed (Debian package wrk)')
  const withNginx = ensure('nginx-light', 'nginx')
  if (!withNginx) console.log('nginx is not installed and cannot be: the nginx column is skipped')
  const work = mkdtempSync(join(tmpdir(), 'acme-responder-bench-'))
  // nginx's worker runs as nobody when started as root: it must be able to read the token.
  chmodSync(work, 0o755)
  const webroot = join(work, 'webroot')
  const dir = join(webroot, '.well-known', 'acme-challenge')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, TOKEN), KEY_AUTH)

  const servers: Served[] = [acmeResponder(await freePort(), dir), ceiling(await freePort())]
  if (withNginx) servers.push(nginx(await freePort(), webroot, work))
  const results = new Map<string, Load[]>()
  try {
    for (const s of servers) await waitUp(s.port, '/', s.name.startsWith('node:http') ? 200 : 503)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const idleRss = rssKb(servers[0]?.pid ?? 0, 'VmRSS')
    // Warm-up, not recorded: every server gets its JIT and caches hot before the rounds.
    for (const s of servers) for (const a of ANSWERS) wrk(s.port, a.path, a.host, 1)
    for (let round = 0; round < ROUNDS; round++) {
      for (const a of ANSWERS) {
        for (const s of servers) {
          const constant = s.name.startsWith('node:http')
          if (!constant && !a.check(await status(s.port, a.path, a.host))) throw new Error(`${s.name} answers ${a.name} wrongly before load`)
          const load = wrk(s.port, a.path, a.host, SECONDS)
          const wrong = constant ? 0 : a.expectNon2xx ? load.requests - load.non2xx3xx : load.non2xx3xx
          if (wrong !== 0 || load.errors !== 0) throw new Error(`${s.name} ${a.name}: ${wrong} wrong answers, ${load.errors} socket errors under load`)
          if (!constant && !a.check(await status(s.port, a.path, a.host))) throw new Error(`${s.name} answers ${a.name} wrongly after load`)
          const key = `${a.name}|${s.name}`
          results.set(key, [...results.get(key) ?? [], load])
        }
      }
    }
    const peak = new Map(servers.map((s) => [s.name, rssKb(s.pid, 'VmHWM')]))
    for (const s of servers) s.stop()

    const startupMs = await startup(dir)
    const port = await freePort()
    const held = acmeResponder(port, dir, ['--keep-alive-timeout', '120000', '--log-level', 'warn'])
    await waitUp(port, P + TOKEN, 200)
    const { sockets, answered } = await idleConnections(port, 5000)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const heldRss = rssKb(held.pid, 'VmRSS')
    const stillAnswers = (await status(port, P + TOKEN)).body === KEY_AUTH
    for (const s of sockets) s.destroy()
    held.stop()

    const lines: string[] = []
    const row = (cells: string[]): void => { lines.push(`| ${cells.join(' | ')} |`) }
    lines.push(`acme-responder benchmark (${quick ? 'quick' : 'full'}: ${ROUNDS} round(s) of ${SECONDS} s, wrk -t1 -c64 on CPU 1, servers on CPU 0), node ${execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()}`, '')
    row(['answer', 'server', 'rps', 'p50 ms', 'p99 ms', 'peak RSS MB', '× ceiling', '× nginx'])
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:'])
    for (const a of ANSWERS) {
      const rps = (name: string): number => median((results.get(`${a.name}|${name}`) ?? []).map((l) => l.rps))
      for (const s of servers) {
        const loads = results.get(`${a.name}|${s.name}`) ?? []
        const r = rps(s.name)
        row([a.name, s.name, r.toFixed(0), median(loads.map((l) => l.p50ms)).toFixed(2), median(loads.map((l) => l.p99ms)).toFixed(2),
          ((peak.get(s.name) ?? 0) / 1024).toFixed(1), (r / rps('node:http constant')).toFixed(2), withNginx ? (r / rps('nginx 1 worker')).toFixed(2) : '-'])
      }
    }
    lines.push('', `startup (spawn → first correct token answer): ${startupMs.toFixed(0)} ms (target ≤ 150)`)
    lines.push(`idle RSS: ${(idleRss / 1024).toFixed(1)} MB (target ≤ 50)`)
    lines.push(`5,000 idle keep-alive connections: ${answered} answered, RSS ${(heldRss / 1024).toFixed(1)} MB (target ≤ 110), still answering: ${String(stillAnswers)}`)
    const text = lines.join('\n') + '\n'
    process.stdout.write('\n' + text)
    const out = new URL('../../bench/results/', import.meta.url).pathname
    mkdirSync(out, { recursive: true })
    writeFileSync(join(out, quick ? 'quick.md' : 'full.md'), text)
    writeFileSync(join(out, quick ? 'quick.json' : 'full.json'), JSON.stringify({ quick, rounds: ROUNDS, seconds: SECONDS, startupMs, idleRss, heldRss, answered, results: Object.fromEntries(results) }, null, 2))
    console.log(`results written to ${out}`)
  } finally {
    for (const s of servers) s.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
