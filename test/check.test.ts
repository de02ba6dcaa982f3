// `acme-responder check` as a child process against local responders sharing one port on 127.0.4.x.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readdirSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { test } from 'node:test'
import { parseCertificates, parseDomainsTxt, profileIn } from '../src/check/domains-txt.js'
import { followRedirect, isPublicAddress, judgeAnswer, nameProblem } from '../src/check/rules.js'
import type { CheckReport } from '../src/check/report.js'
import { CLI, has, httpServer, spawnCli, startResponder, tempDir, waitFor, type Running } from './helpers.js'

type T = { after: (fn: () => unknown) => void }

const server = async (t: T, host: string, port: number, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<unknown> => httpServer(t, host, answer, port)

async function circuit (t: T): Promise<{ dir: string, port: number, master: Running, secondary: Running, lonely: Running }> {
  const dir = tempDir(t)
  const master = await startResponder({ 'challenge-dir': dir, master: ['www.example.test'] }, '127.0.4.1')
  t.after(() => master.close())
  const port = master.port
  // Every host listens on the same port, as they all would on 80.
  const secondary = await startResponder({ listen: [`127.0.4.2:${port}`], 'challenge-dir': tempDir(t), master: [`http://www.example.test:${port}`] })
  t.after(() => secondary.close())
  const lonely = await startResponder({ listen: [`127.0.4.3:${port}`], 'challenge-dir': tempDir(t) })
  t.after(() => lonely.close())
  return { dir, port, master, secondary, lonely }
}

/** Every host here lives on loopback, which the CA refuses: the lab switch is on unless a test says otherwise. */
async function check (args: string[], lab = true): Promise<{ code: number | null, out: string, err: string }> {
  const cli = spawnCli(['check', ...lab ? ['--allow-private'] : [], ...args])
  const code = await cli.exited
  await new Promise((resolve) => setImmediate(resolve))
  return { code, out: cli.stdout, err: cli.stderr }
}

test('a passing secondary → master circuit; the probe file is gone afterwards', async (t) => {
  const c = await circuit(t)
  const r = await check(['--challenge-dir', c.dir, '--port', String(c.port), '--resolve', 'www.example.test:127.0.4.1',
    '--resolve', 'mail.example.test:127.0.4.2', 'www.example.test', 'mail.example.test'])
  assert.equal(r.code, 0, r.out + r.err)
  assert.match(r.out, /PASS www\.example\.test/)
  assert.match(r.out, /PASS mail\.example\.test/)
  assert.match(r.out, /→ 302 Location: http:\/\/www\.example\.test:\d+\/\.well-known\/acme-challenge\//)
  assert.match(r.out, /all 2 names pass/)
  assert.ok(!r.out.includes('\x1b['), 'no colour when stdout is not a terminal')
  assert.deepEqual(readdirSync(c.dir), [])
  // Five concurrent requests per address reached the master, as the CA's perspectives would.
  assert.ok(c.master.logs.filter((l) => l.outcome === 'served').length >= 10)
})

test('a redirect to a name that resolves to a private address fails like at the CA, unless --allow-private', async (t) => {
  const c = await circuit(t)
  const args = ['--challenge-dir', c.dir, '--port', String(c.port), '--resolve', 'www.example.test:127.0.4.1', '--resolve', 'mail.example.test:127.0.4.2', 'mail.example.test']
  const strict = await check(args, false)
  assert.equal(strict.code, 1, strict.out + strict.err)
  assert.match(strict.out, /FAIL mail\.example\.test/)
  assert.match(strict.out, /redirect target www\.example\.test resolves to the private address 127\.0\.4\.1/)
  // The probe never reached the master: the CA would not have connected there either.
  assert.equal(c.master.logs.filter((l) => l.outcome === 'served').length, 0)
  const lab = await check(args, true)
  assert.equal(lab.code, 0, lab.out + lab.err)
})

test('--json output, one good and one bad address, a host without a master', async (t) => {
  const c = await circuit(t)
  const r = await check(['--json', '--challenge-dir', c.dir, '--port', String(c.port), '--resolve', 'www.example.test:127.0.4.1',
    '--resolve', 'mail.example.test:127.0.4.2', '--resolve', 'mail.example.test:127.0.4.9', '--resolve', 'lonely.example.test:127.0.4.3',
    'mail.example.test', 'lonely.example.test'])
  assert.equal(r.code, 1)
  const report = JSON.parse(r.out) as CheckReport
  assert.equal(report.ok, false)
  const mail = report.names.find((n) => n.name === 'mail.example.test')
  assert.equal(mail?.ok, false)
  assert.deepEqual(mail?.addresses.map((a) => [a.address, a.ok]), [['127.0.4.2', true], ['127.0.4.9', false]])
  assert.match(String(mail?.addresses[1]?.result.fix), /nothing listens on port \d+ at 127\.0\.4\.9/)
  const lonely = report.names.find((n) => n.name === 'lonely.example.test')
  assert.match(String(lonely?.addresses[0]?.result.error), /404/)
  assert.match(String(lonely?.addresses[0]?.result.fix), /--master/)
  assert.deepEqual(readdirSync(c.dir), [])
})

test('303, loops, too many redirects, wrong body, big body and a maintenance page all FAIL with their reason', async (t) => {
  const dir = tempDir(t)
  const probe = await startResponder({ 'challenge-dir': tempDir(t) }, '127.0.5.1')
  t.after(() => probe.close())
  const port = probe.port
  const P = '/.well-known/acme-challenge/'
  await server(t, '127.0.5.2', port, (req, res) => { res.writeHead(303, { location: `http://www.example.test:${port}${req.url ?? ''}` }).end() })
  await server(t, '127.0.5.3', port, (req, res) => { res.writeHead(302, { location: req.url ?? '/' }).end() })
  await server(t, '127.0.5.4', port, (req, res) => { res.writeHead(302, { location: `${req.url ?? ''}x` }).end() })
  await server(t, '127.0.5.5', port, (_req, res) => { res.end('wrong.body') })
  await server(t, '127.0.5.6', port, (req, res) => { res.end(`${(req.url ?? '').slice(P.length)}.${'b'.repeat(120)}`) })
  await server(t, '127.0.5.7', port, (_req, res) => { res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>closed</h1>') })
  await server(t, '127.0.5.8', port, (_req, res) => { res.writeHead(302, { location: `http://10.1.2.3:${port}${P}x` }).end() })
  const names: Record<string, RegExp> = {
    see: /redirect with 303/,
    loop: /redirect loop/,
    many: /more than 10 redirects/,
    wrong: /does not match/,
    big: /body of \d+ bytes or more/,
    closed: /maintenance page/,
    private: /private address 10\.1\.2\.3/
  }
  const ips = ['127.0.5.2', '127.0.5.3', '127.0.5.4', '127.0.5.5', '127.0.5.6', '127.0.5.7', '127.0.5.8']
  const args = Object.keys(names).flatMap((n, i) => ['--resolve', `${n}.example.test:${ips[i] ?? ''}`])
  const run = async (which: string[], lab: boolean): Promise<CheckReport> => {
    const r = await check(['--json', '--challenge-dir', dir, '--port', String(port), ...args, ...which.map((n) => `${n}.example.test`)], lab)
    assert.equal(r.code, 1, r.err)
    return JSON.parse(r.out) as CheckReport
  }
  // The private-address redirect runs without the lab switch: with it, check would dial 10.1.2.3.
  const labReport = await run(Object.keys(names).filter((n) => n !== 'private'), true)
  const strictReport = await run(['private'], false)
  const report = { names: [...labReport.names, ...strictReport.names] }
  for (const [n, re] of Object.entries(names)) {
    const a = report.names.find((x) => x.name === `${n}.example.test`)?.addresses[0]
    assert.equal(a?.ok, false, n)
    assert.match(String(a?.result.error), re, n)
    assert.ok((a?.result.fix ?? '').length > 10, `${n} has a fix`)
  }
  assert.equal(report.names.find((x) => x.name === 'many.example.test')?.addresses[0]?.result.hops.length, 11)
  assert.deepEqual(readdirSync(dir), [])
})

test('the probe is removed when check is interrupted', async (t) => {
  const dir = tempDir(t)
  const { port } = await httpServer(t, '127.0.5.9', () => {})
  const cli = spawnCli(['check', '--allow-private', '--challenge-dir', dir, '--port', String(port), '--resolve', 'hang.example.test:127.0.5.9', 'hang.example.test'])
  await waitFor(() => readdirSync(dir).length === 1, 'the probe to be placed')
  cli.child.kill('SIGINT')
  await cli.exited
  assert.deepEqual(readdirSync(dir), [])
})

test('stateless hosts: the expected body is computed, nothing is written', async (t) => {
  const tp = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
  const dir = tempDir(t)
  const r0 = await startResponder({ 'challenge-dir': tempDir(t), 'account-thumbprint': [tp] }, '127.0.6.1')
  t.after(() => r0.close())
  // Every change in the challenge directory is seen: a probe written and removed would show here.
  const changes: string[] = []
  const watcher = watch(dir, (event, file) => changes.push(`${event} ${String(file)}`))
  t.after(() => watcher.close())
  const r = await check(['--challenge-dir', dir, '--account-thumbprint', tp, '--port', String(r0.port), '--resolve', 'smtp.example.test:127.0.6.1', 'smtp.example.test'])
  assert.equal(r.code, 0, r.out + r.err)
  assert.match(r.out, /stateless/)
  assert.deepEqual(changes, [])
  assert.deepEqual(readdirSync(dir), [])
})

test('--token/--expect probe a token placed on the master; usage errors exit 2', async (t) => {
  const c = await circuit(t)
  const { writeFileSync } = await import('node:fs')
  writeFileSync(`${c.dir}/placed`, 'placed.key-auth\n')
  const ok = await check(['--token', 'placed', '--expect', 'placed.key-auth', '--challenge-dir', tempDir(t), '--port', String(c.port),
    '--resolve', 'www.example.test:127.0.4.1', '--resolve', 'mail.example.test:127.0.4.2', 'mail.example.test'])
  assert.equal(ok.code, 0, ok.out)
  const usage = await check(['--token', 'placed', 'mail.example.test'])
  assert.equal(usage.code, 2)
  assert.match(usage.err, /--token needs --expect/)
  assert.equal((await check([])).code, 2)
  assert.equal((await check(['--resolve', 'nonsense', 'x'])).code, 2)
})

test('domains.txt parsing', () => {
  assert.deepEqual(parseDomainsTxt('# certs\nexample.com www.example.com > main\n\nmail.example.com  imap.example.com # mail\n  Mysql.example.com\nwww.example.com\n'),
    ['example.com', 'www.example.com', 'mail.example.com', 'imap.example.com', 'mysql.example.com'])
  assert.deepEqual(parseCertificates('a.example b.example > main\nc.example\n').map((c) => [c.name, c.names.length]), [['main', 2], ['c.example', 1]])
  assert.equal(profileIn('CA="x"\nPROFILE="shortlived"\n'), 'shortlived')
  assert.equal(profileIn("export PROFILE='tlsserver' # short\n"), 'tlsserver')
  assert.equal(profileIn('#PROFILE="classic"\nPROFILE=\n'), undefined)
})

test('validator rules', () => {
  for (const lab of ['m.test', 'm.example', 'm.invalid', 'm.localhost', 'm.example.com', 'm.example.de', 'M.EXAMPLE.ORG.']) assert.equal(nameProblem(lab), undefined, lab)
  for (const bad of ['master.internal', 'master.lan', 'master.local', 'master.home', 'master']) assert.match(String(nameProblem(bad)), /is not a top-level domain/, bad)
  const from = new URL('http://a.example/.well-known/acme-challenge/t')
  assert.equal(followRedirect(from, 301, 'http://b.example/x', [], 80).ok, true)
  assert.equal(followRedirect(from, 301, 'http://b.example/x', Array.from({ length: 10 }, (_, i) => String(i)), 80).ok, true)
  assert.equal(followRedirect(from, 301, 'http://b.example/x', Array.from({ length: 11 }, (_, i) => String(i)), 80).ok, false)
  assert.equal(followRedirect(from, 303, 'http://b.example/x', [], 80).ok, false)
  assert.equal(followRedirect(from, 302, 'ftp://b.example/x', [], 80).ok, false)
  assert.equal(followRedirect(from, 302, 'http://b.example:8080/x', [], 80).ok, false)
  assert.equal(followRedirect(from, 302, 'https://b.example:443/x', [], 80).ok, true)
  assert.equal(followRedirect(from, 302, 'http://192.168.1.1/x', [], 80).ok, false)
  assert.equal(followRedirect(from, 302, 'http://8.8.8.8/x', [], 80).ok, true)
  assert.match(JSON.stringify(followRedirect(from, 302, 'http://example.com.well-known/acme-challenge/x', [], 80)), /lacks the/)
  assert.equal(isPublicAddress('::1'), false)
  assert.equal(isPublicAddress('2001:4860::8888'), true)
  assert.equal(judgeAnswer(200, Buffer.from('k.a\r\n'), 'k.a', undefined).ok, true)
  assert.equal(judgeAnswer(200, Buffer.from('k.a  '), 'k.a', undefined).ok, false)
  assert.equal(judgeAnswer(200, Buffer.from(' k.a'), 'k.a', undefined).ok, false)
})

test('colour on a terminal', { skip: has('script') ? false : 'util-linux script is not installed' }, async (t) => {
  const c = await circuit(t)
  const cmd = [process.execPath, CLI, 'check', '--allow-private', '--challenge-dir', c.dir, '--port', String(c.port), '--resolve', 'www.example.test:127.0.4.1', 'www.example.test']
  // script(1) gives the command a pseudo-terminal, as an operator's shell would.
  // Not spawnSync: the responders answering the check live in this process.
  const child = spawn('script', ['-qec', cmd.map((a) => `'${a}'`).join(' '), '/dev/null'], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const [code] = await once(child, 'exit') as [number]
  assert.equal(code, 0, out)
  assert.ok(out.includes('\x1b[32;1mPASS\x1b[0m'), out)
  assert.deepEqual(readdirSync(c.dir), [])
})

/** A master on 127.0.8.1 and two secondaries redirecting to it by a public-looking and an internal name. */
async function lab (t: T): Promise<{ dir: string, port: number }> {
  const dir = tempDir(t)
  const master = await startResponder({ 'challenge-dir': dir }, '127.0.8.1')
  t.after(() => master.close())
  const port = master.port
  for (const [ip, name] of [['127.0.8.2', 'master.internal'], ['127.0.8.3', 'master.example.com']]) {
    const s = await startResponder({ listen: [`${ip}:${port}`], 'challenge-dir': tempDir(t), master: [`http://${name}:${port}`] })
    t.after(() => s.close())
  }
  return { dir, port }
}

test('a redirect to a name outside the public DNS (.internal) fails like at the CA; .com passes', async (t) => {
  const { dir, port } = await lab(t)
  const r = await check(['--json', '--challenge-dir', dir, '--port', String(port), '--resolve', 'master.internal:127.0.8.1', '--resolve', 'master.example.com:127.0.8.1',
    '--resolve', 'inside.example.com:127.0.8.2', '--resolve', 'outside.example.com:127.0.8.3', 'inside.example.com', 'outside.example.com'])
  assert.equal(r.code, 1, r.err)
  const report = JSON.parse(r.out) as CheckReport
  const inside = report.names.find((n) => n.name === 'inside.example.com')
  assert.equal(inside?.ok, false)
  assert.match(String(inside?.addresses[0]?.result.error), /redirect to master\.internal: \.internal is not a top-level domain of the public DNS/)
  assert.equal(report.names.find((n) => n.name === 'outside.example.com')?.ok, true)
})

test('a name with only private addresses fails without --allow-private, and DNS-01 / dns-persist-01 are named', async (t) => {
  const { dir, port } = await lab(t)
  const r = await check(['--json', '--challenge-dir', dir, '--port', String(port), '--resolve', 'www.example.com:127.0.8.1', 'www.example.com'], false)
  assert.equal(r.code, 1, r.err)
  const n = (JSON.parse(r.out) as CheckReport).names[0]
  assert.match(String(n?.error), /only private addresses \(127\.0\.8\.1\)/)
  assert.match(String(n?.fix), /_validation-persist\.www\.example\.com/)
  assert.equal(n?.addresses[0]?.private, true)
  // The circuit itself works: the probe was answered, only the CA could not get there.
  assert.equal(n?.addresses[0]?.ok, true)
})

test('each line of domains.txt against the profile\'s name limit: 26 names fit classic, not tlsserver', async (t) => {
  const tp = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
  const r0 = await startResponder({ 'challenge-dir': tempDir(t), 'account-thumbprint': [tp] }, '127.0.8.4')
  t.after(() => r0.close())
  const dir = tempDir(t)
  const many = Array.from({ length: 26 }, (_, i) => `n${i}.example.com`)
  writeFileSync(join(dir, 'domains.txt'), `${many.join(' ')} > big\nsmall.example.com other.example.com # two\n`)
  const args = ['--json', '--challenge-dir', dir, '--account-thumbprint', tp, '--port', String(r0.port), '--domains-txt', join(dir, 'domains.txt'),
    ...[...many, 'small.example.com', 'other.example.com'].flatMap((n) => ['--resolve', `${n}:127.0.8.4`])]
  const classic = await check(args)
  assert.equal(classic.code, 0, classic.out + classic.err)
  const strict = await check([...args, '--profile', 'tlsserver'])
  assert.equal(strict.code, 1)
  const report = JSON.parse(strict.out) as CheckReport
  assert.deepEqual(report.certificates.map((c) => [c.names.length, c.limit, c.ok]), [[26, 25, false], [2, 25, true]])
  assert.ok(report.names.every((n) => n.ok), 'every name itself passes')
  // dehydrated's per-certificate config (certs/<alias>/config) names the profile that certificate uses.
  mkdirSync(join(dir, 'certs', 'big'), { recursive: true })
  writeFileSync(join(dir, 'certs', 'big', 'config'), 'KEY_ALGO=secp384r1\nPROFILE="classic" # many names\n')
  const perCert = await check([...args, '--profile', 'tlsserver'])
  assert.equal(perCert.code, 0, perCert.out)
  assert.deepEqual((JSON.parse(perCert.out) as CheckReport).certificates.map((c) => [c.profile, c.ok]), [['classic', true], ['tlsserver', true]])
})

test('IP address identifiers: the IP is dialled and sent as Host, bracketed for IPv6, with a shortlived-profile warning', async (t) => {
  const tp = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
  const v6 = await startResponder({ 'challenge-dir': tempDir(t), 'account-thumbprint': [tp] }, '::1')
  t.after(() => v6.close())
  const v4 = await startResponder({ listen: [`127.0.8.5:${v6.port}`], 'challenge-dir': tempDir(t), 'account-thumbprint': [tp] })
  t.after(() => v4.close())
  const r = await check(['--json', '--challenge-dir', tempDir(t), '--account-thumbprint', tp, '--port', String(v6.port), '127.0.8.5', '::1'])
  assert.equal(r.code, 0, r.out + r.err)
  const report = JSON.parse(r.out) as CheckReport
  for (const n of report.names) assert.match(n.warnings.join('\n'), /IP address identifier .*only in the shortlived profile/)
  assert.ok(v6.logs.some((l) => l.outcome === 'stateless' && l.host === `[::1]:${v6.port}`), 'IPv6 identifier sent as [::1]:port')
  assert.ok(v4.logs.some((l) => l.outcome === 'stateless' && l.host === `127.0.8.5:${v6.port}`))
})

test('two passing addresses that answer differently are a warning; the one-place note is said once', async (t) => {
  const { dir, port } = await lab(t)
  const r = await check(['--challenge-dir', dir, '--port', String(port), '--resolve', 'master.example.com:127.0.8.1',
    '--resolve', 'two.example.com:127.0.8.1', '--resolve', 'two.example.com:127.0.8.3', 'two.example.com'])
  assert.equal(r.code, 0, r.out + r.err)
  assert.match(r.out, /warning: 127\.0\.8\.1 and 127\.0\.8\.3 both pass but differ in redirect chain/)
  assert.equal(r.out.split('remote perspectives').length - 1, 1)
})

test('a redirect target whose first AAAA does not answer fails: the CA does not fall back to IPv4 on a redirect', async (t) => {
  const { dir, port } = await lab(t)
  const r = await check(['--json', '--challenge-dir', dir, '--port', String(port), '--resolve', 'master.example.com:::1', '--resolve', 'master.example.com:127.0.8.1',
    '--resolve', 'mail.example.com:127.0.8.3', 'mail.example.com'])
  assert.equal(r.code, 1, r.err)
  const a = (JSON.parse(r.out) as CheckReport).names[0]?.addresses[0]
  assert.equal(a?.result.hops[1]?.address, '::1')
  assert.match(String(a?.result.fix), /answers on IPv4 \(127\.0\.8\.1\) but not on its first IPv6 address ::1, and on a redirect the CA does not fall back to IPv4/)
})
