// npm run bench [-- --quick] [--siege-only | --no-siege] [--node PATH]: acme-responder against nginx (1 worker), a constant node:http server and the
// floor (its bytes + the freshness lstat), same core, interleaved rounds, then footprints; writes bench/results/.
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../test/ports.js'
import { waitFor } from '../test/helpers.js'
import { wrk, type Load } from './load.js'
import { ATTACKS, SIEGE_SERVERS, siegeCell, type SiegeRow, type SiegeServer } from './siege.js'
import { acmeResponder, ceiling, cpuMs, FLOOR, floor, has, KEY_AUTH, NODE, nginx, rssKb, status, TOKEN, waitUp, type Served } from './servers.js'

const quick = process.argv.includes('--quick')
/** Only the siege section (it takes a few minutes of its own). */
const siegeOnly = process.argv.includes('--siege-only')
/** Without the siege section (to compare Node.js lines on the other rows). */
const noSiege = process.argv.includes('--no-siege')
const SIEGE_SECONDS = quick ? 5 : 10
// Many short loads rather than a few long ones: a busy moment of a shared machine then spoils one
// sample of the median, not a third of them. With the four servers, every one takes every place in the
// turning order once in each four rounds.
const ROUNDS = quick ? 4 : 8
const SECONDS = quick ? 1 : 2
/** Peak memory needs a load long enough for the heap to reach its size under it. */
const PEAK_SECONDS = quick ? 2 : 5
const P = '/.well-known/acme-challenge/'
const CEILING = 'node:http constant'
const NGINX = 'nginx 1 worker'
const ME = 'acme-responder'

interface Answer { name: string, path: string, host: string, check: (r: { status: number, body: string, location?: string }) => boolean, expectNon2xx: boolean }
const ANSWERS: Answer[] = [
  { name: 'token 200', path: P + TOKEN, host: 'www.example.com', check: (r) => r.status === 200 && r.body === KEY_AUTH, expectNon2xx: false },
  { name: 'redirect 302', path: `${P}missing`, host: 'mail.example.com', check: (r) => r.status === 302 && r.location === `http://www.example.com${P}missing`, expectNon2xx: false },
  { name: 'maintenance 503', path: '/', host: 'www.example.com', check: (r) => r.status === 503, expectNon2xx: true }
]

/** Each server, how to start it, and the answer that proves it is up (the constant server answers "ok" anywhere). */
interface Kind { name: string, start: (port: number) => Served, body: string }

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

const settle = (): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, 500))

async function up (k: Kind): Promise<Served> {
  const s = k.start(await freePort())
  await waitUp(s.port, P + TOKEN, 200)
  return s
}

/**
 * Spawn → first correct token answer: nine starts of each server, interleaved, so that a busy moment of
 * the machine does not fall on one server's starts only; the median of each.
 */
async function startups (ks: readonly Kind[]): Promise<Map<string, number>> {
  const times = new Map<string, number[]>(ks.map((k) => [k.name, []]))
  for (let i = 0; i < 9; i++) {
    for (const k of ks) {
      const port = await freePort()
      const t0 = performance.now()
      const s = k.start(port)
      await waitUp(port, P + TOKEN, 200)
      times.get(k.name)?.push(performance.now() - t0)
      s.stop()
      await settle()
    }
  }
  return new Map([...times].map(([name, t]) => [name, median(t)]))
}

/**
 * Opens n keep-alive connections, each answered once, and keeps them open. From 50 addresses, 100 each:
 * a busy host's visitors, each under the per-client cap (from one address the responder would keep 256).
 */
async function idleConnections (port: number, n: number, body: string): Promise<{ sockets: Socket[], answered: number }> {
  const sockets: Socket[] = []
  let answered = 0
  for (let i = 0; i < n; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, j) => new Promise<void>((resolve) => {
      const s = connect({ port, host: '127.0.0.1', localAddress: `127.0.50.${((i + j) % 50) + 1}` }, () => s.write(`GET ${P}${TOKEN} HTTP/1.1\r\nHost: www.example.com\r\n\r\n`))
      s.on('error', () => resolve())
      s.once('data', (d: Buffer) => { if (d.toString().includes(body)) answered++; resolve() })
      sockets.push(s)
    })))
  }
  return { sockets, answered }
}

interface Footprint { startupMs: number, idleKb: number, peakKb: Record<string, number>, heldKb: number, held: string }

async function footprint (k: Kind, startupMs: number): Promise<Footprint> {
  const idle = await up(k)
  await settle()
  const idleKb = rssKb(idle.pid, 'VmRSS')
  idle.stop()
  // Peak memory per answer: a fresh server each, so one answer's peak does not hide another's.
  const peakKb: Record<string, number> = {}
  for (const a of ANSWERS) {
    const s = await up(k)
    wrk(s.port, a.path, a.host, PEAK_SECONDS)
    peakKb[a.name] = rssKb(s.pid, 'VmHWM')
    s.stop()
  }
  const s = await up(k)
  const { sockets, answered } = await idleConnections(s.port, 5000, k.body)
  await settle()
  const heldKb = rssKb(s.pid, 'VmRSS')
  const still = (await status(s.port, P + TOKEN)).body === k.body
  for (const sock of sockets) sock.destroy()
  s.stop()
  return { startupMs, idleKb, peakKb, heldKb, held: `${answered} answered${still ? '' : ', NOT answering after'}` }
}

/**
 * Each siege row in a network namespace of its own when this runs as root (as the siege issue measured):
 * on the host's own loopback, the rows before leave TIME_WAIT sockets and, where a firewall tracks
 * connections (Docker's NAT rules load conntrack), entries that stay 10–120 s; a churning attacker filled
 * the 262,144 of them, and the kernel then dropped every SYN, the CA's too: a row measured the earlier
 * rows, not its server.
 */
const ISOLATED = process.getuid?.() === 0 && has('unshare') && has('ip')

function isolatedCell (attack: number, server: SiegeServer, work: string): Promise<SiegeRow> {
  const at = process.argv.indexOf('--node')
  const args = [new URL('siege-row.js', import.meta.url).pathname, String(attack), server, String(SIEGE_SECONDS), work, ...at > 0 ? process.argv.slice(at, at + 2) : []]
  const child = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as SiegeRow)
      else reject(new Error(`siege row ${ATTACKS[attack]?.name ?? attack} for ${server} exited with ${code}`))
    })
  })
}

/**
 * The siege table: each attack against a fresh acme-responder (its defaults) and a fresh nginx (1 worker,
 * 8,192 worker_connections), the CA validating every 500 ms meanwhile; success, latency, peak RSS.
 */
async function siegeTable (work: string, withNginx: boolean): Promise<string[]> {
  const servers = SIEGE_SERVERS.filter((s) => withNginx || s !== NGINX)
  const cell = (r: SiegeRow): string[] => [`${(100 * r.ok / r.asked).toFixed(0)} %`, r.p50ms.toFixed(0), r.p99ms.toFixed(0), `${(r.peakKb / 1024).toFixed(0)} MB`]
  const where = ISOLATED ? 'each row in a network namespace of its own' : 'all rows on this host\'s loopback (not root: no network namespace per row, so a row inherits the TIME_WAIT sockets and firewall state of the rows before)'
  const lines = ['', `Siege: 12,000 attacker connections, ${where}; the CA validates every 500 ms for ${SIEGE_SECONDS} s with 5 requests, each a fresh connection from its own address; share answered correctly within 10 s, its p50/p99 in ms, and the server's peak RSS.`, '',
    `| attack | ${servers.map((n) => `${n} CA ok | p50 | p99 | peak RSS`).join(' | ')} |`,
    `| --- | ${servers.map(() => '---: | ---: | ---: | ---:').join(' | ')} |`]
  for (const [i, a] of ATTACKS.entries()) {
    const cells: string[] = []
    for (const name of servers) {
      const r = ISOLATED ? await isolatedCell(i, name, work) : await siegeCell(name, a, SIEGE_SECONDS, work)
      console.log(`siege: ${a.name}: ${name}: ${r.ok}/${r.asked} correct, p99 ${r.p99ms.toFixed(0)} ms, peak ${(r.peakKb / 1024).toFixed(0)} MB`)
      cells.push(...cell(r))
    }
    lines.push(`| ${a.name} | ${cells.join(' | ')} |`)
  }
  return lines
}

/** Up when an HTTPS request to `/` gets any answer (the certificate is self-made: not checked). */
async function httpsUp (port: number): Promise<void> {
  const { get } = await import('node:https')
  await waitFor(() => new Promise<boolean>((resolve) => {
    get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => { res.resume(); resolve(true) }).on('error', () => resolve(false))
  }), `HTTPS on port ${port}`, 10_000)
}

/**
 * The maintenance page over TLS with keep-alive (wrk's connections are reused, so this is mostly the
 * record layer, not handshakes): acme-responder against nginx with the same certificate. Not a target.
 */
async function tlsRow (dir: string, work: string, webroot: string, withNginx: boolean): Promise<string[]> {
  const cert = join(work, 'tls.crt')
  const key = join(work, 'tls.key')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=www.example.com', '-addext', 'subjectAltName=DNS:www.example.com'], { stdio: 'ignore' })
  chmodSync(key, 0o600)
  const servers: Served[] = []
  try {
    const port = await freePort()
    servers.push(acmeResponder(port, dir, ['--log-level', 'warn', '--keep-alive-timeout', '120000', '--listen-tls', `127.0.0.1:${port}`, '--tls-cert', cert, '--tls-key', key], `127.0.0.1:${await freePort()}`))
    await httpsUp(port)
    if (withNginx) {
      const nport = await freePort()
      const d = join(work, 'nginx-tls')
      mkdirSync(d)
      servers.push(nginx(nport, webroot, d, 16384, { cert, key }))
      await httpsUp(nport)
    }
    const rps = new Map<string, number[]>(servers.map((s) => [s.name, []]))
    for (const s of servers) wrk(s.port, '/', 'www.example.com', 1, 64, 'https')
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
        const load = wrk(s.port, '/', 'www.example.com', SECONDS, 64, 'https')
        if (load.errors !== 0 || load.non2xx3xx !== load.requests) throw new Error(`${s.name} over TLS: ${load.errors} socket errors, ${load.requests - load.non2xx3xx} answers that were not the 503 page`)
        rps.get(s.name)?.push(load.rps)
      }
    }
    const me = median(rps.get(ME) ?? [])
    const gx = median(rps.get(NGINX) ?? [])
    return ['', '| over TLS, keep-alive | acme-responder rps | nginx rps | ratio | target |', '| --- | ---: | ---: | ---: | --- |',
      `| maintenance 503 | ${me.toFixed(0)} | ${withNginx ? gx.toFixed(0) : '-'} | ${withNginx ? `${(me / gx).toFixed(2)}× nginx` : '-'} | none yet |`]
  } finally {
    for (const s of servers) s.stop()
  }
}

function save (name: string, text: string): void {
  const out = new URL('../../bench/results/', import.meta.url).pathname
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, name), text)
  console.log(`results written to ${join(out, name)}`)
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
  if (siegeOnly) {
    try {
      const text = (await siegeTable(work, withNginx)).join('\n') + '\n'
      process.stdout.write(text)
      save(quick ? 'siege-quick.md' : 'siege.md', text)
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
    return
  }
  let nginxRun = 0
  const kinds: Kind[] = [
    // As the targets were set: no log line per request (--log-level warn), so the gaps are not the log's.
    { name: ME, start: (port) => acmeResponder(port, dir, ['--log-level', 'warn', '--keep-alive-timeout', '120000']), body: KEY_AUTH },
    { name: CEILING, start: ceiling, body: 'ok' },
    // Throughput only: what any node:http program sending these bytes under SPEC's freshness must spend.
    { name: FLOOR, start: (port) => floor(port, dir), body: KEY_AUTH },
    ...withNginx ? [{ name: NGINX, start: (port: number) => { const d = join(work, `nginx-${nginxRun++}`); mkdirSync(d); return nginx(port, webroot, d) }, body: KEY_AUTH }] : []
  ]

  const servers: Served[] = []
  const results = new Map<string, Array<Load & { cpuUs: number }>>()
  try {
    for (const k of kinds) servers.push(await up(k))
    // Warm-up, not recorded: every server gets its JIT and caches hot before the rounds.
    for (const s of servers) for (const a of ANSWERS) wrk(s.port, a.path, a.host, 1)
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, a] of ANSWERS.entries()) {
        // The order turns every time: on this machine kind the last of a few back-to-back loads is
        // measured up to a third slower, whatever server it is (seen with three identical servers).
        const turn = (round + i) % servers.length
        for (const s of [...servers.slice(turn), ...servers.slice(0, turn)]) {
          const constant = s.name === CEILING
          if (!constant && !a.check(await status(s.port, a.path, a.host))) throw new Error(`${s.name} answers ${a.name} wrongly before load`)
          const cpu0 = cpuMs(s.pid)
          const run = wrk(s.port, a.path, a.host, SECONDS)
          const load = { ...run, cpuUs: (cpuMs(s.pid) - cpu0) * 1000 / Math.max(1, run.requests) }
          const wrong = constant ? 0 : a.expectNon2xx ? load.requests - load.non2xx3xx : load.non2xx3xx
          if (wrong !== 0 || load.errors !== 0) throw new Error(`${s.name} ${a.name}: ${wrong} wrong answers, ${load.errors} socket errors under load`)
          if (!constant && !a.check(await status(s.port, a.path, a.host))) throw new Error(`${s.name} answers ${a.name} wrongly after load`)
          const key = `${a.name}|${s.name}`
          results.set(key, [...results.get(key) ?? [], load])
        }
      }
    }
    for (const s of servers) s.stop()
    servers.length = 0
    const prints = new Map<string, Footprint>()
    const measured = kinds.filter((k) => k.name !== FLOOR)
    const startMs = await startups(measured)
    for (const k of measured) prints.set(k.name, await footprint(k, startMs.get(k.name) ?? NaN))

    const lines: string[] = []
    const row = (cells: string[]): void => { lines.push(`| ${cells.join(' | ')} |`) }
    lines.push(`acme-responder benchmark (${quick ? 'quick' : 'full'}: ${ROUNDS} round(s) of ${SECONDS} s, wrk -t1 -c64 on CPU 1, servers on CPU 0), node ${execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()}`, '')
    row(['answer', 'server', 'rps', 'CPU µs/answer', 'p50 ms', 'p99 ms', '× ceiling', '× floor', '× nginx'])
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'])
    const rps = (a: string, name: string): number => median((results.get(`${a}|${name}`) ?? []).map((l) => l.rps))
    for (const a of ANSWERS) {
      for (const k of kinds) {
        const loads = results.get(`${a.name}|${k.name}`) ?? []
        const r = rps(a.name, k.name)
        row([a.name, k.name, r.toFixed(0), median(loads.map((l) => l.cpuUs)).toFixed(1), median(loads.map((l) => l.p50ms)).toFixed(2), median(loads.map((l) => l.p99ms)).toFixed(2),
          (r / rps(a.name, CEILING)).toFixed(2), (r / rps(a.name, FLOOR)).toFixed(2), withNginx ? (r / rps(a.name, NGINX)).toFixed(2) : '-'])
      }
    }
    // Every figure of the targets side by side, the ratio taken against the node:http ceiling (or nginx).
    const mb = (kb: number | undefined): string => ((kb ?? 0) / 1024).toFixed(1)
    const me = prints.get(ME)
    const node = prints.get(CEILING)
    const gx = prints.get(NGINX)
    const figure = (name: string, mine: number, theirs: number, nginxValue: number | undefined, unit: (v: number) => string, ratio: number, target: string, met: boolean): void => {
      row([name, unit(mine), unit(theirs), nginxValue === undefined ? '-' : unit(nginxValue), `${ratio.toFixed(2)}×`, target, met ? 'yes' : 'no'])
    }
    lines.push('', '| figure | acme-responder | node:http | nginx | ratio | target | met |', '| --- | ---: | ---: | ---: | ---: | --- | --- |')
    const tRatio = withNginx ? rps('token 200', ME) / rps('token 200', NGINX) : NaN
    row(['token 200, rps', rps('token 200', ME).toFixed(0), rps('token 200', CEILING).toFixed(0), withNginx ? rps('token 200', NGINX).toFixed(0) : '-', `${tRatio.toFixed(2)}× nginx`, '≥ 1.0× nginx', tRatio >= 1 ? 'yes' : 'no'])
    const rRatio = rps('redirect 302', ME) / rps('redirect 302', CEILING)
    row(['redirect 302, rps', rps('redirect 302', ME).toFixed(0), rps('redirect 302', CEILING).toFixed(0), withNginx ? rps('redirect 302', NGINX).toFixed(0) : '-', `${rRatio.toFixed(2)}×`, '≥ 0.85× node', rRatio >= 0.85 ? 'yes' : 'no'])
    const mRatio = rps('maintenance 503', ME) / rps('maintenance 503', CEILING)
    row(['maintenance 503, rps', rps('maintenance 503', ME).toFixed(0), rps('maintenance 503', CEILING).toFixed(0), withNginx ? rps('maintenance 503', NGINX).toFixed(0) : '-', `${mRatio.toFixed(2)}×`, '≥ 0.95× node', mRatio >= 0.95 ? 'yes' : 'no'])
    if (me !== undefined && node !== undefined) {
      const mbCell = (v: number): string => `${mb(v)} MB`
      figure('idle RSS', me.idleKb, node.idleKb, gx?.idleKb, mbCell, me.idleKb / node.idleKb, '≤ 1.15× node', me.idleKb / node.idleKb <= 1.15)
      for (const a of ANSWERS) {
        const mine = me.peakKb[a.name] ?? 0
        const theirs = node.peakKb[a.name] ?? 1
        figure(`peak RSS, ${a.name} load`, mine, theirs, gx?.peakKb[a.name], mbCell, mine / theirs, '≤ 1.1× node', mine / theirs <= 1.1)
      }
      figure(`5,000 idle keep-alive connections (${me.held})`, me.heldKb, node.heldKb, gx?.heldKb, mbCell, me.heldKb / node.heldKb, '≤ 1.05× node', me.heldKb / node.heldKb <= 1.05)
      figure('start → first token answer', me.startupMs, node.startupMs, gx?.startupMs, (v) => `${v.toFixed(0)} ms`, me.startupMs / node.startupMs, '≤ 1.5× node', me.startupMs / node.startupMs <= 1.5)
    }
    lines.push(...await tlsRow(dir, work, webroot, withNginx))
    if (!noSiege) lines.push(...await siegeTable(work, withNginx))
    const text = lines.join('\n') + '\n'
    process.stdout.write('\n' + text)
    save(quick ? 'quick.md' : 'full.md', text)
    save(quick ? 'quick.json' : 'full.json', JSON.stringify({ quick, rounds: ROUNDS, seconds: SECONDS, footprint: Object.fromEntries(prints), results: Object.fromEntries(results) }, null, 2))
  } finally {
    for (const s of servers) s.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
