// The holes of the security review, each proven closed: floods, local users, early signals, empty options.
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect, createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { get, httpServer, oneLine, runCli, spawnCli, startCli, startResponder, tempDir, waitFor } from './helpers.js'
import { freePort } from './ports.js'
import { FIELD_BYTES, LOG_IN_ALL, LOG_LINE_MAX, TOKEN_CHARS } from '../src/serve/log-line.js'

const P = '/.well-known/acme-challenge/'
const isRoot = process.getuid?.() === 0
const rootOnly = { skip: isRoot ? false : 'needs root (the suite runs as root in CI)' }
const random = (): string => randomBytes(24).toString('base64url')

test('proxy mode: a flood of random tokens from one address does not fail the CA\'s requests from others', async (t) => {
  const REAL = random()
  const m = await httpServer(t, '127.0.3.2', (req, res) => {
    // A master a little slow to answer: 200 ms per request, as over a WAN.
    setTimeout(() => {
      if (req.url === P + REAL) res.end(`${REAL}.thumb`)
      else res.writeHead(404).end()
    }, 200)
  })
  const r = await startResponder({ 'challenge-dir': tempDir(t), mode: 'proxy', master: [m.url] }, '127.0.3.1')
  t.after(() => r.close())

  let answered = 0
  const flooder = { ...r, localAddress: '127.0.3.50' }
  // 60 connections from one address, 20 random tokens each, back to back.
  const flood = Promise.all(Array.from({ length: 60 }, async () => {
    for (let i = 0; i < 20; i++) {
      await get(flooder, P + random(), { host: 'mail.example.com' })
      answered++
    }
  }))
  await waitFor(() => answered >= 120, 'the flood to be under way')
  // The CA: its primary and four remote perspectives, from five other addresses, at nearly the same time.
  const ca = await Promise.all([11, 12, 13, 14, 15].map((n) => get({ ...r, localAddress: `127.0.3.${n}` }, P + REAL, { host: 'mail.example.com' })))
  assert.deepEqual(ca.map((a) => a.status), [200, 200, 200, 200, 200])
  assert.deepEqual(ca.map((a) => a.text), Array(5).fill(`${REAL}.thumb`))
  await flood
  // The flooder got its answers too: quick refusals or 404s, nothing hung.
  assert.equal(answered, 1200)
})

test('proxy mode: "every master said 404" is remembered briefly, so repeats cost no fetch', async (t) => {
  const m = await httpServer(t, '127.0.3.3', (_req, res) => { res.writeHead(404).end() })
  const r = await startResponder({ 'challenge-dir': tempDir(t), mode: 'proxy', master: [m.url] }, '127.0.3.1')
  t.after(() => r.close())
  const tok = random()
  for (let i = 0; i < 10; i++) assert.equal((await get(r, P + tok, { host: 'x' })).status, 404)
  assert.equal(m.hits.length, 1)
})

test('the log grows by a bounded amount under a flood, and every request of a validation is still logged', async (t) => {
  const dir = tempDir(t)
  // The log goes to stdout here: the child's stdout is the log file, measured byte for byte.
  const cli = await startCli(['--listen', '127.0.3.20:0', '--challenge-dir', dir, '--master', 'www.example.com'])
  t.after(() => cli.child.kill('SIGKILL'))
  const before = cli.stdout.length
  // 2,000 requests with a 7,900-byte User-Agent on one keep-alive connection.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const ua = 'x'.repeat(7900)
  const one = (): Promise<number> => new Promise((resolve, reject) => {
    request({ host: '127.0.3.20', port: cli.port, path: P + random(), agent, headers: { host: 'mail.example.com', 'user-agent': ua } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    }).on('error', reject).end()
  })
  for (let i = 0; i < 2000; i++) assert.equal(await one(), 302)
  // Then a validation from five other addresses.
  const token = random()
  for (const n of [21, 22, 23, 24, 25]) {
    assert.equal((await get({ host: '127.0.3.20', port: cli.port, localAddress: `127.0.3.${n}` }, P + token, { host: 'mail.example.com', 'user-agent': ua })).status, 302)
  }
  const lines = (): string[] => cli.stdout.split('\n').filter((l) => l.includes(token))
  await waitFor(() => lines().length === 5, 'the validation\'s five log lines')
  const grown = cli.stdout.length - before
  assert.ok(grown < 100_000, `the log grew by ${grown} bytes`)
  for (const l of lines()) {
    const o = JSON.parse(l) as { ua: string, outcome: string }
    assert.equal(o.outcome, 'redirected')
    assert.equal(o.ua, 'x'.repeat(FIELD_BYTES) + '…', 'the User-Agent is cut')
  }
  // The rest is counted, and the count reaches the log on the next summary (at the latest on stop).
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0)
  assert.match(cli.stdout, /"challenge redirected \(over the log budget\)":\d{4}/)
})

test('the log grows by at most 20 lines of at most LOG_LINE_MAX bytes a second under a flood from 40 addresses', async (t) => {
  const dir = tempDir(t)
  const cli = await startCli(['--listen', '127.0.3.37:0', '--challenge-dir', dir, '--master', 'www.example.com'])
  t.after(() => cli.child.kill('SIGKILL'))
  // Every client field at its worst: a User-Agent of quotes (each doubles once JSON-escaped), a long
  // Host, and tokens of 255 characters (logged once as the token and once inside the redirect's location).
  const headers = { host: 'mail.' + 'a'.repeat(60).concat('.').repeat(3) + 'example', 'user-agent': '"'.repeat(7600) }
  const longToken = (): string => randomBytes(192).toString('base64url').slice(0, 255)
  const agents = Array.from({ length: 40 }, (_, i) => new Agent({ keepAlive: true, maxSockets: 2, localAddress: `127.0.12.${i + 1}` }))
  t.after(() => { for (const a of agents) a.destroy() })
  const one = (agent: Agent): Promise<number> => new Promise((resolve, reject) => {
    request({ host: '127.0.3.37', port: cli.port, path: P + longToken(), agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    }).on('error', reject).end()
  })
  const before = cli.stdout.length
  const t0 = performance.now()
  let requests = 0
  // Five seconds of flood: long enough for the 200-line burst to be a small part of it.
  await Promise.all(agents.flatMap((agent) => [0, 1].map(async () => {
    while (performance.now() - t0 < 5000) {
      assert.equal(await one(agent), 302)
      requests++
    }
  })))
  const seconds = (performance.now() - t0) / 1000
  // The lines written during the flood reach stdout a moment later: wait until the log is quiet.
  let size = -1
  await waitFor(() => { const same = size === cli.stdout.length; size = cli.stdout.length; return same }, 'the log to settle')
  const flood = cli.stdout.slice(before).split('\n').filter((l) => l.includes('challenge request'))
  const bytes = flood.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0)
  t.diagnostic(`${requests} requests in ${seconds.toFixed(1)} s: ${flood.length} lines, ${bytes} bytes, ${Math.round(bytes / seconds)} bytes/s; longest line ${Math.max(...flood.map((l) => Buffer.byteLength(l)))} bytes`)
  assert.ok(requests > 10 * flood.length, `the flood (${requests} requests) was well over the budget (${flood.length} lines)`)
  for (const l of flood) assert.ok(Buffer.byteLength(l) <= LOG_LINE_MAX, `a line of ${Buffer.byteLength(l)} bytes: ${l.slice(0, 300)}`)
  // The budget: the burst, then 20 a second (one more for a refill landing at the edge).
  assert.ok(flood.length <= LOG_IN_ALL.burst + Math.ceil(LOG_IN_ALL.perSecond * seconds) + 1, `${flood.length} lines in ${seconds} s`)
  const o = JSON.parse(flood.at(-1) ?? '{}') as Record<string, unknown>
  assert.equal(o.tokenLength, 255)
  assert.equal(String(o.token).length, TOKEN_CHARS + 1)
  assert.equal(o.location, undefined, 'the location repeats the token: left out when the token is cut')
  assert.equal(o.ua, '"'.repeat(FIELD_BYTES / 2) + '…')
})

test('a maintenance status that cannot carry a body is refused at start', async (t) => {
  for (const status of ['204', '205', '304']) {
    const r = await runCli(['--listen', '127.0.3.30:0', '--challenge-dir', tempDir(t), '--maintenance-status', status])
    assert.equal(r.code, 2, status)
    assert.match(oneLine(r.stderr), new RegExp(`^acme-responder: invalid --maintenance-status: ${status} cannot carry the page`))
  }
})

test('the log file is never opened or chowned through a symlink or a hard link', rootOnly, async (t) => {
  const dir = tempDir(t)
  const open = join(dir, 'writable-by-nobody')
  mkdirSync(open)
  chmodSync(open, 0o1777)
  const secret = join(dir, 'victim')
  writeFileSync(secret, 'root only\n', { mode: 0o600 })
  symlinkSync(secret, join(open, 'acme.log'))
  const viaSymlink = await runCli(['--listen', '127.0.3.31:0', '--challenge-dir', dir, '--user', 'nobody', '--log-file', join(open, 'acme.log')])
  assert.equal(viaSymlink.code, 2)
  assert.match(oneLine(viaSymlink.stderr), /^acme-responder: invalid --log-file: cannot open .*acme\.log: is a symbolic link$/)
  linkSync(secret, join(open, 'hard.log'))
  const viaLink = await runCli(['--listen', '127.0.3.31:0', '--challenge-dir', dir, '--user', 'nobody', '--log-file', join(open, 'hard.log')])
  assert.equal(viaLink.code, 2)
  assert.match(oneLine(viaLink.stderr), /^acme-responder: invalid --log-file: .*hard\.log has 2 hard links$/)
  const st = statSync(secret)
  assert.equal(st.uid, 0)
  assert.equal(st.mode & 0o777, 0o600)
  assert.equal(readFileSync(secret, 'utf8'), 'root only\n')
})

test('a log file another user planted in a shared directory is refused; the service\'s own loses group-write and other bits', rootOnly, async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  // World-writable without the sticky bit: Linux's fs.protected_regular covers sticky directories (FreeBSD
  // has nothing like it), and would refuse root's open before the responder's own check could.
  const shared = join(dir, 'tmp')
  mkdirSync(shared)
  chmodSync(shared, 0o777)
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim())
  // nobody creates the file first, open to all, and keeps a descriptor of its own on it.
  const planted = join(shared, 'acme.log')
  execFileSync('sh', ['-c', `umask 0; : > ${planted}`], { uid: nobody, gid: nobody })
  assert.equal(statSync(planted).mode & 0o777, 0o666)
  const refused = await runCli(['--listen', '127.0.3.36:0', '--challenge-dir', dir, '--user', 'daemon', '--log-file', planted])
  assert.equal(refused.code, 2)
  assert.match(oneLine(refused.stderr), /^acme-responder: invalid --log-file: .*acme\.log is owned by uid \d+, not root or the service user/)
  assert.equal(readFileSync(planted, 'utf8'), '', 'nothing was written to it')
  // root's own file, left 0666 by a umask: the service makes it 0640, and it is handed to the user.
  const own = join(shared, 'own.log')
  writeFileSync(own, '', { mode: 0o666 })
  chmodSync(own, 0o666)
  const cli = spawnCli(['--listen', '127.0.3.36:0', '--challenge-dir', dir, '--user', 'daemon', '--log-file', own])
  t.after(() => cli.child.kill('SIGKILL'))
  // The log goes to the file, so that is where the start shows.
  await waitFor(() => readFileSync(own, 'utf8').includes('acme-responder listening'), 'the start in the log file', 20_000, () => cli.stderr)
  const st = statSync(own)
  assert.equal(st.mode & 0o777, 0o640)
  assert.equal(st.uid, Number(execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' }).trim()))
})

test('SIGUSR1 does not open the inspector', async (t) => {
  const inspector = await freePort('127.0.3.32')
  const cli = await startCli(['--listen', '127.0.3.32:0', '--challenge-dir', tempDir(t)], { NODE_OPTIONS: `--inspect-port=127.0.3.32:${inspector}` })
  t.after(() => cli.child.kill('SIGKILL'))
  cli.child.kill('SIGUSR1')
  await cli.line((l) => l.signal === 'SIGUSR1')
  const refused = await new Promise<string>((resolve) => {
    const s = connect(inspector, '127.0.3.32')
    s.on('connect', () => { s.destroy(); resolve('connected') })
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
  assert.equal(refused, 'ECONNREFUSED')
  assert.doesNotMatch(cli.stderr, /Debugger listening/)
  assert.equal((await get({ host: '127.0.3.32', port: cli.port }, '/')).status, 503)
})

test('without getent in PATH the group is still dropped, and an unknown group stops the start', rootOnly, async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  const cli = await startCli(['--listen', '127.0.3.33:0', '--challenge-dir', dir, '--user', 'nobody'], { PATH: '/nonexistent' })
  t.after(() => cli.child.kill('SIGKILL'))
  const status = readFileSync(`/proc/${cli.child.pid}/status`, 'utf8')
  assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m)
  const gid = execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim()
  assert.match(status, new RegExp(`^Gid:\\s+${gid}\\s+${gid}\\s+${gid}\\s+${gid}$`, 'm'))
  assert.match(status, new RegExp(`^Groups:\\s+${gid}\\s*$`, 'm'))
  const bad = await runCli(['--listen', '127.0.3.33:0', '--challenge-dir', dir, '--user', 'nobody', '--group', 'no-such-group-here'])
  assert.equal(bad.code, 1)
  assert.equal(oneLine(bad.stderr), 'acme-responder: unknown group no-such-group-here')
})

test('a SIGHUP during start is kept and acted on once the server is up', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify({ listen: ['127.0.3.34:0'], 'challenge-dir': dir }))
  // A preload that sends SIGHUP to the process the moment start opens the config file, the moment a
  // logrotate HUP used to kill it. (A config FIFO once held the start there; FIFOs are refused now.)
  const preload = join(dir, 'hup-at-config.cjs')
  writeFileSync(preload, `
const fsp = require('node:fs/promises')
const open = fsp.open
let sent = false
fsp.open = function (path, ...rest) {
  if (!sent && String(path).endsWith('config.json')) {
    sent = true
    process.kill(process.pid, 'SIGHUP')
    process.stderr.write('SIGHUP sent while opening ' + path + '\\n')
  }
  return open.call(this, path, ...rest)
}
`)
  const cli = spawnCli(['--config', file], { NODE_OPTIONS: `--require ${preload}` })
  t.after(() => cli.child.kill('SIGKILL'))
  await Promise.race([
    cli.line((l) => l.msg === 'acme-responder listening'),
    cli.exited.then((code) => { throw new Error(`exited ${code} (signal ${cli.child.signalCode}): ${cli.stderr}`) })
  ])
  assert.match(cli.stderr, /SIGHUP sent while opening .*config\.json/)
  // The queued reload reads the config again, once the server is up.
  await cli.line((l) => l.msg === 'configuration reloaded')
  assert.equal(cli.child.exitCode, null)
  assert.equal(cli.child.signalCode, null)
})

test('a SIGHUP while Node parses the program finds a handler: the entry file traps it first', async (t) => {
  const dir = tempDir(t)
  // A preload that sends SIGHUP to the process the moment Node is about to compile the program: the
  // first file over 100 KB. A signal sent to oneself is delivered before kill() returns: with no handler
  // installed by then, the process dies of it there and then.
  const preload = join(dir, 'hup-at-parse.cjs')
  writeFileSync(preload, `
const Module = require('node:module')
const compile = Module.prototype._compile
Module.prototype._compile = function (content, filename) {
  if (content.length > 100000) {
    Module.prototype._compile = compile
    process.kill(process.pid, 'SIGHUP')
    process.stderr.write('SIGHUP sent before compiling ' + filename + '\\n')
  }
  return compile.call(this, content, filename)
}
`)
  const cli = spawnCli(['--listen', '127.0.3.35:0', '--challenge-dir', dir], { NODE_OPTIONS: `--require ${preload}` })
  t.after(() => cli.child.kill('SIGKILL'))
  await Promise.race([
    cli.line((l) => l.msg === 'acme-responder listening'),
    cli.exited.then((code) => { throw new Error(`exited ${code} (signal ${cli.child.signalCode}): ${cli.stderr}`) })
  ])
  assert.match(cli.stderr, /SIGHUP sent before compiling/)
  // The SIGHUP caught early is acted on: a reload, once the server is up.
  await cli.line((l) => l.msg === 'configuration reloaded')
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0)
})

test('a token file with more than one link is refused', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'elsewhere'), 'not.a.token')
  linkSync(join(dir, 'elsewhere'), join(dir, 'tok'))
  const r = await startResponder({ 'challenge-dir': dir })
  t.after(() => r.close())
  const res = await get(r, P + 'tok', { host: 'x' })
  assert.equal(res.status, 500)
  assert.doesNotMatch(res.text, /not\.a\.token/)
  assert.match(String(r.logs.find((l) => l.outcome === 'unusable')?.msg), /has 2 hard links/)
})

test('empty, blank and out-of-range values are refused with one line, exit 2, from every source', async (t) => {
  const dir = tempDir(t)
  const file = (o: unknown): string => { const f = join(dir, `c${Math.random()}.json`); writeFileSync(f, JSON.stringify(o)); return f }
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--listen', ''], {}, /invalid --listen: must not be empty/],
    [['--listen', ' '], {}, /invalid --listen: must not be empty/],
    [['--listen', ','], {}, /invalid --listen: "," must be ip:port/],
    [[], { ACME_RESPONDER_LISTEN: ' , ' }, /invalid --listen: must not be empty/],
    [[], { ACME_RESPONDER_LISTEN: '' }, /invalid --listen: must not be empty/],
    [['--config', file({ listen: [] })], {}, /invalid --listen: must not be empty/],
    [['--config', file({ listen: ['127.0.0.1:0', ''] })], {}, /invalid --listen: has an empty item/],
    [['--master', ''], {}, /invalid --master: must not be empty/],
    [['--alias', ' '], {}, /invalid --alias: must not be empty/],
    [[], { ACME_RESPONDER_ALIAS: ',' }, /invalid --alias: must not be empty/],
    [[], { ACME_RESPONDER_MASTER: ' ' }, /invalid --master: must not be empty/],
    [['--challenge-dir', ' '], {}, /invalid --challenge-dir: must not be empty/],
    [['--max-connections', '0'], {}, /invalid --max-connections: 0 is out of range/],
    [['--max-connections=-1'], {}, /invalid --max-connections: "-1" is not a whole number/],
    [['--retry-after', '99999999999'], {}, /invalid --retry-after: 99999999999 is out of range/],
    [['--proxy-budget', '60000'], {}, /invalid --proxy-budget: 60000 is out of range/],
    [['--config', file({ 'headers-timeout': 1.5 })], {}, /invalid --headers-timeout: "1.5" is not a whole number/]
  ]
  for (const [args, env, re] of cases) {
    const r = await runCli(args.includes('--challenge-dir') ? args : ['--challenge-dir', dir, ...args], env)
    assert.equal(r.code, 2, `${JSON.stringify(args)} ${JSON.stringify(env)}: ${r.stderr}`)
    assert.match(oneLine(r.stderr), re)
  }
})

test('a failed start with --log-file exits 1 with its one line, and the log is complete', async (t) => {
  const hog = createServer()
  await new Promise<void>((resolve) => hog.listen(0, '127.0.3.35', resolve))
  t.after(() => hog.close())
  const { port } = hog.address() as AddressInfo
  const dir = tempDir(t)
  const log = join(dir, 'acme.log')
  const r = await runCli(['--listen', `127.0.3.35:${port}`, '--challenge-dir', dir, '--log-file', log])
  assert.equal(r.code, 1)
  assert.equal(oneLine(r.stderr), `acme-responder: cannot listen on 127.0.3.35:${port}: address already in use`)
  for (const line of readFileSync(log, 'utf8').split('\n').filter((l) => l !== '')) JSON.parse(line)
})

test('reloads run as the dropped user: unreadable files are named at start, the account key\'s thumbprint is kept', rootOnly, async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const key = join(dir, 'account_key.pem')
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  const config = join(dir, 'config.json')
  writeFileSync(config, JSON.stringify({ 'account-key': key }), { mode: 0o600 })
  const cli = await startCli(['--listen', '127.0.3.36:0', '--challenge-dir', dir, '--user', 'nobody', '--config', config])
  t.after(() => cli.child.kill('SIGKILL'))
  const warned = await cli.line((l) => l.file === config)
  assert.match(String(warned.msg), /will not be readable by nobody after the drop: mode 600, owner 0:0/)
  const tok = random()
  const before = (await get({ host: '127.0.3.36', port: cli.port }, P + tok, { host: 'x' })).text
  assert.match(before, new RegExp(`^${tok}\\.[A-Za-z0-9_-]{43}$`))
  // The config stays root-only: the reload is refused and said so, the running config is kept.
  cli.child.kill('SIGHUP')
  await cli.line((l) => l.msg === 'reload refused, keeping the running configuration')
  // Readable config, root-only key: the reload goes through on the thumbprint read at start.
  chmodSync(config, 0o644)
  cli.child.kill('SIGHUP')
  await cli.line((l) => l.msg === 'configuration reloaded')
  assert.equal((await get({ host: '127.0.3.36', port: cli.port }, P + tok, { host: 'x' })).text, before)
})
