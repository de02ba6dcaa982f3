// End to end: a real ACME CA (pebble) and real clients (dehydrated, lego) get one certificate for five
// names on five hosts, each answered by acme-responder on its own loopback address, port 80.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { startCa, type Ca } from './e2e/ca.js'
import { dehydrated, dehydratedRegister, lego, opensslSans, opensslVerify, type Issued } from './e2e/clients.js'
import { emptyDir, startHosts, stopHosts, summaries, traffic, type HostSpec } from './e2e/hosts.js'
import { visit } from './e2e/browser.js'
import { has, spawnCli, tempDir } from './helpers.js'

/** TAP diagnostics are one line each. */
function say (t: TestContext, text: string): void {
  for (const line of text.split('\n')) if (line.trim() !== '') t.diagnostic(line)
}

const HOSTS = { www: '127.0.10.1', mail: '127.0.10.2', imap: '127.0.10.3', mysql: '127.0.10.4', web: '127.0.10.5', lonely: '127.0.10.6' }
const D = (h: string): string => `${h}.example.test`
const FIVE = ['www', 'mail', 'imap', 'mysql', 'web'].map(D)

function missing (): string | undefined {
  if (process.getuid?.() !== 0) return 'it must run as root to bind port 80 on 127.0.10.x'
  for (const cmd of ['pebble', 'pebble-challtestsrv', 'dehydrated', 'lego', 'openssl', 'curl', 'chromium', 'certutil']) {
    if (!has(cmd)) return `${cmd} is not installed (Debian packages pebble, dehydrated, lego, openssl, curl, chromium, libnss3-tools; .ci/run installs them)`
  }
  return undefined
}

const why = missing()
if (why !== undefined) {
  process.stderr.write(`\n*** END-TO-END TEST SKIPPED: ${why} ***\n\n`)
  // In CI the end-to-end proof is not optional.
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(`end-to-end test cannot run in CI: ${why}`)
}

/** The five hosts: www is the master, mysql a second address of it, the others secondaries. */
function topology (masterDir: string, root: string, secondary: readonly string[]): HostSpec[] {
  return [
    { name: D('www'), address: HOSTS.www, args: ['--challenge-dir', masterDir, '--master', D('www')] },
    { name: D('mysql'), address: HOSTS.mysql, args: ['--challenge-dir', masterDir, '--master', D('www')] },
    ...['mail', 'imap', 'web'].map((h) => ({ name: D(h), address: HOSTS[h as 'mail'], args: ['--challenge-dir', emptyDir(root, `empty-${h}`), ...secondary] }))
  ]
}

async function assertIssued (t: TestContext, ca: Ca, issued: Issued, dir: string, names: readonly string[]): Promise<void> {
  assert.ok(issued.ok, `the client failed:\n${issued.output}\n--- CA ---\n${ca.log().slice(-3000)}`)
  assert.deepEqual(await opensslSans(issued.cert), [...names].sort())
  assert.match(await opensslVerify(issued.cert, issued.chain, await ca.issuingRoot(), dir), /: OK$/)
  say(t, `issued: ${names.join(', ')}; chain verifies against Pebble's root`)
}

async function scenario (t: TestContext, ca: Ca, client: 'dehydrated' | 'lego', mode: 'redirect' | 'proxy'): Promise<void> {
  const root = tempDir(t)
  const webroot = join(root, 'webroot')
  const masterDir = join(webroot, '.well-known', 'acme-challenge')
  mkdirSync(masterDir, { recursive: true })
  const secondary = mode === 'redirect' ? ['--master', D('www')] : ['--mode', 'proxy', '--master', `http://${HOSTS.www}`]
  const hosts = await startHosts(topology(masterDir, root, secondary))
  t.after(() => stopHosts(hosts))
  const issued = client === 'dehydrated'
    ? await dehydrated(ca, join(root, 'client'), FIVE, masterDir)
    : await lego(ca, join(root, 'client'), FIVE, webroot)
  say(t, `${client}, ${mode} mode; what each responder answered the validator:\n${traffic(hosts)}`)
  await assertIssued(t, ca, issued, root, FIVE)
  const outcomes = hosts.flatMap((h) => h.cli.stdout.split('\n').filter((l) => l.includes('"challenge request"')).map((l) => `${h.name}:${String((JSON.parse(l) as { outcome: string }).outcome)}`))
  const expected = mode === 'redirect' ? 'redirected' : 'proxied'
  for (const h of ['mail', 'imap', 'web']) assert.ok(outcomes.includes(`${D(h)}:${expected}`), `${h} ${expected} the validator`)
  assert.ok(outcomes.includes(`${D('mysql')}:served`), 'mysql served from the shared directory')
  // What an operator reads first: one summary per token and host, none of them failing.
  const v = await summaries(hosts)
  say(t, `validation summaries:\n${v.text}`)
  assert.deepEqual(v.failing, [], 'no failing validation')
  for (const h of ['mail', 'imap', 'web']) assert.ok((v.by.get(D(h)) ?? 0) >= 1, `${h} summarised its validation`)
}

test('one certificate, five names, five hosts, with a real CA and real clients', { skip: why ?? false, timeout: 600_000 }, async (t) => {
  const ca = await startCa(tempDir(t), HOSTS.www)
  t.after(() => ca.stop())
  for (const [h, address] of Object.entries(HOSTS)) await ca.addA(D(h), address)

  await t.test('acme-responder check passes against the topology before any order', async (t) => {
    const root = tempDir(t)
    const masterDir = emptyDir(root, 'master')
    const hosts = await startHosts(topology(masterDir, root, ['--master', D('www')]))
    t.after(() => stopHosts(hosts))
    const cli = spawnCli(['check', '--allow-private', '--challenge-dir', masterDir, ...Object.entries(HOSTS).flatMap(([h, a]) => ['--resolve', `${D(h)}:${a}`]), ...FIVE])
    const code = await cli.exited
    say(t, cli.stdout)
    assert.equal(code, 0, cli.stdout + cli.stderr)
  })

  await t.test('dehydrated, redirect mode', (t) => scenario(t, ca, 'dehydrated', 'redirect'))
  await t.test('dehydrated, proxy mode', (t) => scenario(t, ca, 'dehydrated', 'proxy'))
  await t.test('lego, redirect mode', (t) => scenario(t, ca, 'lego', 'redirect'))
  await t.test('lego, proxy mode', (t) => scenario(t, ca, 'lego', 'proxy'))

  await t.test('HTTPS: Pebble\'s certificate, deployed by dehydrated\'s hook with a SIGHUP, shown by Chromium with no warning', async (t) => {
    const root = tempDir(t)
    const masterDir = emptyDir(root, 'master')
    // The web host starts with a certificate of its own (last year's, say): the hook replaces it.
    const tls = emptyDir(root, 'tls')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tls, 'www.key'), '-out', join(tls, 'www.crt'),
      '-days', '2', '-subj', '/CN=old', '-addext', `subjectAltName=DNS:${D('www')}`], { stdio: 'ignore' })
    chmodSync(join(tls, 'www.key'), 0o600)
    const withTls = ['--tls-cert', join(tls, 'www.crt'), '--tls-key', join(tls, 'www.key'), '--listen-tls', `${HOSTS.www}:443`]
    const specs = topology(masterDir, root, ['--master', D('www')]).map((h) => h.name === D('www') ? { ...h, args: [...h.args, ...withTls] } : h)
    const hosts = await startHosts(specs)
    t.after(() => stopHosts(hosts))
    const www = hosts.find((h) => h.name === D('www'))
    assert.ok(www !== undefined)
    // dehydrated's deploy_cert hook, as README gives it: copy the key (0600 here: the responder runs as
    // root in this test) and the full chain, then SIGHUP the responder.
    const hook = join(root, 'hook.sh')
    writeFileSync(hook, [
      '#!/bin/sh',
      'if [ "$1" = deploy_cert ]; then',
      `  install -m 0600 "$3" ${join(tls, 'www.key')} && install -m 0644 "$5" ${join(tls, 'www.crt')} && kill -HUP ${String(www.cli.child.pid)}`,
      'fi',
      ''
    ].join('\n'), { mode: 0o755 })
    const issued = await dehydrated(ca, join(root, 'client'), [D('www')], masterDir, hook)
    await assertIssued(t, ca, issued, root, [D('www')])
    await www.cli.line((l) => l.msg === 'configuration reloaded', 30_000)
    const shot = join(new URL('../../dist/', import.meta.url).pathname, 'artifacts', 'maintenance-over-https.png')
    mkdirSync(dirname(shot), { recursive: true })
    const seen = await visit(emptyDir(root, 'browser'), `https://${D('www')}/`, await ca.issuingRoot(), { [D('www')]: HOSTS.www }, shot)
    // The page's own words, from the DOM: Chromium's interstitial would have none of them.
    assert.match(seen.dom, /<title>Closed for Maintenance<\/title>/)
    assert.match(seen.dom, /We are temporarily closed/)
    assert.doesNotMatch(seen.dom, /not private|ERR_CERT/i)
    assert.ok(statSync(shot).size > 1000, 'a screenshot was taken')
    say(t, `Chromium showed the maintenance page over https with Pebble's certificate; screenshot: ${shot}`)
  })

  await t.test('dehydrated, every secondary stateless with the client\'s account thumbprint', async (t) => {
    const root = tempDir(t)
    const masterDir = emptyDir(root, 'master')
    const reg = await dehydratedRegister(ca, join(root, 'client'), masterDir)
    assert.ok(reg.ok, reg.output)
    const tp = spawnCli(['thumbprint', '--account-key', reg.accountKey])
    assert.equal(await tp.exited, 0, tp.stderr)
    const thumbprint = tp.stdout.trim()
    const hosts = await startHosts(topology(masterDir, root, ['--account-thumbprint', thumbprint]))
    t.after(() => stopHosts(hosts))
    const issued = await dehydrated(ca, join(root, 'client'), FIVE, masterDir)
    say(t, `stateless (thumbprint ${thumbprint}):\n${traffic(hosts)}`)
    await assertIssued(t, ca, issued, root, FIVE)
    assert.match(traffic(hosts), /mail\.example\.test .* 200 stateless/)
  })

  await t.test('a secondary with no master configured: the order fails and the CA names that host', async (t) => {
    const root = tempDir(t)
    const masterDir = emptyDir(root, 'master')
    const hosts = await startHosts([
      { name: D('www'), address: HOSTS.www, args: ['--challenge-dir', masterDir, '--master', D('www')] },
      { name: D('lonely'), address: HOSTS.lonely, args: ['--challenge-dir', emptyDir(root, 'lonely')] }
    ])
    t.after(() => stopHosts(hosts))
    const issued = await dehydrated(ca, join(root, 'client'), [D('www'), D('lonely')], masterDir)
    say(t, `expected failure:\n${traffic(hosts)}`)
    const v = await summaries(hosts)
    say(t, `validation summaries:\n${v.text}`)
    assert.ok(v.failing.includes(D('lonely')), 'the lonely host\'s summary is a warning')
    assert.equal(issued.ok, false)
    assert.match(issued.output, /lonely\.example\.test/)
    assert.match(issued.output, /404/)
  })
})
