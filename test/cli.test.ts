// The built binary as a child process: exit codes, one-line errors, precedence, signals, privilege drop.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { get, httpServer, listenPort, oneLine, runCli, spawnCli, startCli, tempDir, waitFor } from './helpers.js'

const P = '/.well-known/acme-challenge/'
const isRoot = process.getuid?.() === 0
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const run = (args: string[], env: NodeJS.ProcessEnv = {}, uid?: number): ReturnType<typeof runCli> => runCli(args, env, uid === undefined ? {} : { uid, gid: uid })

test('--help and --version', async () => {
  const help = await run(['--help'])
  assert.equal(help.code, 0)
  for (const opt of ['--listen', '--challenge-dir', '--master', '--alias', '--mode', '--redirect-status', '--maintenance-page', '--log-file', '--user', 'check', 'thumbprint']) {
    assert.ok(help.stdout.includes(opt), opt)
  }
  const checkHelp = await run(['check', '--help'])
  assert.equal(checkHelp.code, 0)
  for (const opt of ['--challenge-dir', '--master', '--account-thumbprint', '--resolve', '--allow-private', '--domains-txt']) assert.ok(checkHelp.stdout.includes(opt), `check --help shows ${opt}`)
  for (const opt of ['--listen', '--max-connections', '--log-file', '--user', '--redirect-status']) assert.ok(!checkHelp.stdout.includes(opt), `check --help hides ${opt}`)
  assert.match(help.stdout, /--retry-after .*\[default: 3600\]/)
  const version = await run(['--version'])
  assert.equal(version.code, 0)
  assert.equal(version.stdout.trim(), pkg.version)
})

test('invalid configuration: one line naming the option, exit 2', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--redirect-status', '303'], {}, /invalid --redirect-status: "303" must be one of 301, 302, 307, 308/],
    [['--listen', 'nowhere'], {}, /invalid --listen/],
    [['--no-such-flag'], {}, /Unknown argument/],
    [[], { ACME_RESPONDER_MODE: 'proxy' }, /invalid --mode: proxy mode needs at least one --master/],
    [['--config', join(dir, 'missing.json')], {}, /invalid --config: .*ENOENT/],
    [['--maintenance-page', join(dir, 'missing.html'), '--listen', '127.0.0.1:0'], {}, /invalid --maintenance-page: .*missing.html cannot be read: ENOENT/],
    [['--log-file', join(dir, 'no/such/dir/log'), '--listen', '127.0.0.1:0'], {}, /invalid --log-file: cannot open/]
  ]
  for (const [args, env, re] of cases) {
    const r = await run(args, env)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(oneLine(r.stderr), re)
    assert.equal(r.stdout, '')
  }
})

test('port in use: one line naming the address, exit 1', async (t) => {
  const hog = createServer()
  await new Promise<void>((resolve) => hog.listen(0, '127.0.0.3', resolve))
  t.after(() => hog.close())
  const { port } = hog.address() as AddressInfo
  const r = await run(['--listen', `127.0.0.3:${port}`, '--challenge-dir', tempDir(t)])
  assert.equal(r.code, 1)
  assert.equal(oneLine(r.stderr), `acme-responder: cannot listen on 127.0.0.3:${port}: address already in use`)
})

test('port 80 without privileges: one line, exit 1', { skip: existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start') && Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 80 ? 'unprivileged ports start at or below 80 here' : false }, async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  const r = await run(['--listen', '127.0.0.1:80', '--challenge-dir', dir], {}, isRoot ? 65534 : undefined)
  assert.equal(r.code, 1)
  assert.match(oneLine(r.stderr), /^acme-responder: cannot listen on 127\.0\.0\.1:80: (permission denied|address already in use)/)
})

test('the acceptance session, as a non-root user: token, redirect, master Host, traversal, maintenance', async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'tok'), 'tok.thumb', { mode: 0o644 })
  const cli = await startCli(['--listen', '127.0.0.4:0', '--challenge-dir', dir, '--master', 'www.example.com'], {}, isRoot ? { uid: 65534, gid: 65534 } : {})
  t.after(() => cli.child.kill('SIGKILL'))
  const r = { port: cli.port, host: '127.0.0.4' }
  assert.equal((await get(r, P + 'tok', { host: 'x' })).text, 'tok.thumb')
  const red = await get(r, P + 'nope', { host: 'mail.example.com' })
  assert.equal(red.status, 302)
  assert.equal(red.headers.location, 'http://www.example.com/.well-known/acme-challenge/nope')
  assert.equal((await get(r, P + 'nope', { host: 'WWW.Example.com:80.' })).status, 404)
  assert.equal((await get(r, P + '..%2f..%2fetc%2fpasswd', { host: 'x' })).status, 404)
  assert.equal((await get(r, '/', { host: 'x' })).status, 503)
})

test('precedence through the real binary: flag > env > file', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify({ 'redirect-status': 308, 'retry-after': 5, master: 'file.example.com', listen: ['127.0.0.5:0'], 'challenge-dir': dir }))
  const cli = await startCli(['--config', file, '--master', 'flag.example.com'], { ACME_RESPONDER_REDIRECT_STATUS: '307', ACME_RESPONDER_MASTER: 'env.example.com' })
  t.after(() => cli.child.kill('SIGKILL'))
  const r = { port: cli.port, host: '127.0.0.5' }
  const red = await get(r, P + 'nope', { host: 'x' })
  assert.equal(red.status, 307)
  assert.equal(red.headers.location, 'http://flag.example.com/.well-known/acme-challenge/nope')
  assert.equal((await get(r, '/', { host: 'x' })).headers['retry-after'], '5')
})

test('SIGHUP reopens the log file and reloads config and page; a bad file keeps the old config', async (t) => {
  const dir = tempDir(t)
  const log = join(dir, 'responder.log')
  const file = join(dir, 'config.json')
  const page = join(dir, 'page.html')
  writeFileSync(page, 'page one')
  const cfg = { listen: ['127.0.0.6:0'], 'challenge-dir': dir, master: 'www.example.com', 'maintenance-page': page }
  writeFileSync(file, JSON.stringify(cfg))
  const cli = spawnCli(['--config', file, '--log-file', log])
  t.after(() => cli.child.kill('SIGKILL'))
  const text = (): string => existsSync(log) ? readFileSync(log, 'utf8') : ''
  const waitLog = async (re: RegExp): Promise<void> => { await waitFor(() => re.test(text()), `${re} in ${log}`) }
  await waitLog(/acme-responder listening/)
  const r = { port: listenPort(JSON.parse(text().split('\n')[0] ?? '{}') as Record<string, unknown>), host: '127.0.0.6' }
  assert.equal((await get(r, P + 'a', { host: 'x' })).status, 302)

  // A keep-alive connection opened before the reload is still answered after it.
  const kept = connect(r.port, r.host)
  kept.on('error', () => {})
  const replies: string[] = []
  kept.on('data', (c: Buffer) => replies.push(c.toString()))
  const ask = async (): Promise<void> => {
    const before = replies.length
    kept.write(`GET ${P}kept HTTP/1.1\r\nHost: x\r\n\r\n`)
    await waitFor(() => replies.length > before, 'the answer on the kept connection')
  }
  await ask()
  assert.match(replies.join(''), /^HTTP\/1\.1 302/)

  renameSync(log, log + '.0')
  writeFileSync(file, JSON.stringify({ ...cfg, 'redirect-status': 307 }))
  writeFileSync(page, 'page two')
  cli.child.kill('SIGHUP')
  await waitLog(/configuration reloaded/)
  assert.equal((await get(r, P + 'b', { host: 'x' })).status, 307)
  assert.equal((await get(r, '/', { host: 'x' })).text, 'page two')
  await ask()
  assert.match(replies.at(-1) ?? '', /^HTTP\/1\.1 307/, 'the connection survived the reload')
  kept.destroy()
  await waitLog(/"token":"b"/)
  assert.ok(!readFileSync(log + '.0', 'utf8').includes('"token":"b"'), 'new lines go to the reopened file')

  writeFileSync(file, JSON.stringify({ ...cfg, 'redirect-status': 303 }))
  cli.child.kill('SIGHUP')
  await waitLog(/invalid --redirect-status.*reload refused/)
  assert.equal((await get(r, P + 'c', { host: 'x' })).status, 307)
})

test('SIGTERM finishes in-flight requests, closes idle ones and exits 0', async (t) => {
  const dir = tempDir(t)
  // A master that answers after 700 ms keeps a proxied request in flight while the signal arrives.
  const master = await httpServer(t, '127.0.0.7', (_req, res) => { setTimeout(() => res.end('slow.answer'), 700) })
  const cli = await startCli(['--listen', '127.0.0.8:0', '--challenge-dir', dir, '--mode', 'proxy', '--master', master.url])
  t.after(() => cli.child.kill('SIGKILL'))
  const r = { port: cli.port, host: '127.0.0.8' }
  const idleSock = connect(r.port, r.host)
  idleSock.on('error', () => {})
  const inFlight = get(r, P + 'slowtoken', { host: 'mail.example.com' })
  await waitFor(() => master.hits.length === 1, 'the request to reach the master')
  const t0 = Date.now()
  cli.child.kill('SIGTERM')
  const res = await inFlight
  assert.equal(res.status, 200)
  assert.equal(res.text, 'slow.answer')
  assert.equal(await cli.exited, 0)
  assert.ok(Date.now() - t0 < 5000, 'an idle socket did not hold the exit back')
  assert.match(cli.stdout, /"msg":"stopped"/)
})

test('privileges are dropped after binding', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'tok'), 'served.as.nobody')
  chmodSync(join(dir, 'tok'), 0o644)
  const cli = await startCli(['--listen', '127.0.0.9:0', '--challenge-dir', dir, '--user', 'nobody', '--group', 'nogroup'])
  t.after(() => cli.child.kill('SIGKILL'))
  // A log file created as root is handed to the user, so a reopen after rotation still works.
  const log = join(dir, 'responder.log')
  const logged = spawnCli(['--listen', '127.0.0.9:0', '--challenge-dir', dir, '--user', 'nobody', '--log-file', log])
  t.after(() => logged.child.kill('SIGKILL'))
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('listening'), 'the listening line')
  assert.equal(statSync(log).uid, 65534)
  logged.child.kill('SIGHUP')
  await waitFor(() => readFileSync(log, 'utf8').includes('configuration reloaded'), 'the reload')
  assert.equal(logged.stderr, '')
  const status = readFileSync(`/proc/${cli.child.pid}/status`, 'utf8')
  assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m)
  assert.match(status, /^Gid:\s+65534\s+65534\s+65534\s+65534$/m)
  assert.match(status, /^Groups:\s+65534\s*$/m)
  assert.equal((await get({ port: cli.port, host: '127.0.0.9' }, P + 'tok', { host: 'x' })).text, 'served.as.nobody')

  const bad = await run(['--listen', '127.0.0.9:0', '--challenge-dir', dir, '--user', 'no-such-user-here'])
  assert.equal(bad.code, 1)
  assert.match(oneLine(bad.stderr), /^acme-responder: unknown user no-such-user-here$/)
})
