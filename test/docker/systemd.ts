// The systemd unit and the Apache fallback under a real systemd (PID 1 in a container) next to a real Apache.
// Run from docker.test.ts, which owns the one Docker engine of the suite.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { BASE, buildBase, docker } from './engine.js'
import { tempDir, waitFor } from '../helpers.js'

const ROOT = new URL('../../../', import.meta.url).pathname
const IMAGE = 'acme-responder-test-systemd:latest'
const P = '/.well-known/acme-challenge/'
const DIR = '/var/lib/dehydrated/acme-challenges'

interface Box {
  sh (cmd: string): { code: number | null, out: string }
  /** An HTTP request from inside the container (its own network: the host's port 80 is other tests'). */
  http (path: string, host?: string): { status: number, body: string }
  until (what: string, cond: () => boolean, ms?: number): Promise<number>
}

function box (name: string): Box {
  const b: Box = {
    sh (cmd) {
      const r = spawnSync('docker', ['exec', name, 'sh', '-c', cmd], { encoding: 'utf8' })
      return { code: r.status, out: r.stdout + r.stderr }
    },
    http (path, host = 'mail.example.com') {
      const r = b.sh(`curl -s -m 5 -H 'Host: ${host}' -w '\\n%{http_code}' http://127.0.0.1${path}`)
      const i = r.out.lastIndexOf('\n')
      return { status: Number(r.out.slice(i + 1)), body: r.out.slice(0, Math.max(0, i)) }
    },
    until: (what, cond, ms = 60_000) => waitFor(cond, what, ms, () => `; journal:\n${b.sh('journalctl --no-pager -n 60').out}`)
  }
  return b
}

const apacheAnswers = (b: Box): boolean => /Apache2 Debian Default Page/.test(b.http('/').body)
const responderAnswers = (b: Box): boolean => b.http('/').status === 503 && b.http(`${P}tok`).body === 'tok.served'
const failedUnits = (b: Box): string => b.sh('systemctl list-units --failed --plain --no-legend').out.trim()
const active = (b: Box, unit: string): string => b.sh(`systemctl is-active ${unit}`).out.trim()

async function boot (t: TestContext, name: string): Promise<Box> {
  docker(['run', '-d', '--name', name, '--network', 'none', '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined',
    '--tmpfs', '/run', '--tmpfs', '/run/lock', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro', IMAGE, '/lib/systemd/systemd'])
  t.after(() => { spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' }) })
  const b = box(name)
  await b.until('systemd to finish booting', () => /^(running|degraded)/.test(b.sh('systemctl is-system-running').out), 120_000)
  return b
}

export async function systemdTests (t: TestContext): Promise<void> {
  buildBase()
  // The product as a user installs it: the packed tarball, npm install -g, a system user.
  const work = tempDir(t)
  // --ignore-scripts: dist/ is built already; rebuilding it would race the tests running beside this one.
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, stdio: 'ignore' })
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz')) ?? ''
  writeFileSync(join(work, 'Dockerfile'), [
    `FROM ${BASE}`,
    `COPY ${tgz} /tmp/`,
    `RUN npm install -g /tmp/${tgz} --no-audit --no-fund && rm /tmp/${tgz} && useradd --system --no-create-home --shell /usr/sbin/nologin acme-responder`,
    ''
  ].join('\n'))
  // Host networking for the build only: npm reaches the registry as the host does.
  docker(['build', '--network', 'host', '-t', IMAGE, work])
  t.after(() => { spawnSync('docker', ['rmi', '-f', IMAGE], { stdio: 'ignore' }) })
  const name = `acme-responder-systemd-${process.pid}`
  const b = await boot(t, name)
  const must = (cmd: string): string => {
    const r = b.sh(cmd)
    assert.equal(r.code, 0, `${cmd}: ${r.out}`)
    return r.out
  }

  await t.test('the unit as README installs it: starts without and with the challenge directory, serves as its user, reloads, stops cleanly', async () => {
    must('systemctl disable --now apache2')
    must(`rm -rf ${DIR} && echo '{ "master": "www.example.com" }' > /etc/acme-responder.json`)
    must('install -m 644 /usr/local/lib/node_modules/acme-responder/rc.d/acme-responder.service /etc/systemd/system/')
    must('systemctl daemon-reload && systemctl enable --now acme-responder')
    await b.until('the responder to answer without a challenge directory', () => b.http('/').status === 503)
    assert.equal(b.http(`${P}tok`).status, 302)
    must(`mkdir -p ${DIR} && printf tok.served > ${DIR}/tok && chmod 644 ${DIR}/tok`)
    assert.equal(b.http(`${P}tok`).body, 'tok.served')
    must('systemctl restart acme-responder')
    await b.until('the responder to answer after a restart', () => responderAnswers(b))
    const pid = must('systemctl show -p MainPID --value acme-responder').trim()
    assert.equal(must(`ps -o user= -p ${pid}`).trim(), 'acme-responder')
    assert.match(must(`grep -E '^(Cap(Eff|Bnd))' /proc/${pid}/status`), /CapEff:\s+0000000000000400/)
    must('systemctl reload acme-responder')
    await b.until('the reload to reach the program', () => /configuration reloaded/.test(b.sh('journalctl -u acme-responder --no-pager').out))
    assert.equal(must('systemctl show -p MainPID --value acme-responder').trim(), pid, 'reload keeps the process')
    must('systemctl stop acme-responder')
    assert.equal(must('systemctl show -p Result --value acme-responder').trim(), 'success', 'stopped within TimeoutStopSec, exit 0')
    assert.match(b.sh('journalctl -u acme-responder --no-pager').out, /"msg":"stopped"/)
    assert.equal(failedUnits(b), '')
  })

  await t.test('the Apache fallback: the responder holds port 80 exactly while Apache does not', async () => {
    must('mkdir -p /etc/systemd/system/apache2.service.d /etc/systemd/system/acme-responder.service.d')
    must('install -m 644 /usr/local/lib/node_modules/acme-responder/rc.d/acme-responder-fallback.conf /etc/systemd/system/apache2.service.d/')
    must('install -m 644 /usr/local/lib/node_modules/acme-responder/rc.d/acme-responder-yield.conf /etc/systemd/system/acme-responder.service.d/')
    must('systemctl daemon-reload && systemctl enable apache2 acme-responder && systemctl start apache2')
    await b.until('Apache to answer on 80', () => apacheAnswers(b))
    assert.equal(active(b, 'acme-responder'), 'inactive')

    must('systemctl stop apache2')
    const took = await b.until('the responder to take over port 80', () => responderAnswers(b), 10_000)
    t.diagnostic(`responder answering ${took} ms after "systemctl stop apache2" returned`)

    must('systemctl start apache2')
    await b.until('Apache to answer again', () => apacheAnswers(b))
    assert.equal(active(b, 'acme-responder'), 'inactive')
    assert.equal(failedUnits(b), '')

    must('systemctl restart apache2')
    await b.until('Apache to answer after its restart', () => apacheAnswers(b))
    assert.equal(active(b, 'apache2'), 'active')
    assert.equal(failedUnits(b), '')

    must('systemctl restart acme-responder')
    assert.ok(apacheAnswers(b), 'Apache still answers')
    assert.equal(active(b, 'acme-responder'), 'inactive', 'skipped by its condition, not failed')
    assert.equal(must('systemctl show -p NRestarts --value acme-responder').trim(), '0', 'no restart loop')
    assert.equal(failedUnits(b), '')
  })

  await t.test('HTTPS: with the host\'s certificate the responder holds 443 exactly while Apache (mod_ssl) does not', async () => {
    // The host's certificate, made here and copied in (the image has no openssl), its key readable by
    // the service user's group: the unit runs as that user from the start.
    const dir = tempDir(t)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'www.key'), '-out', join(dir, 'www.crt'),
      '-days', '2', '-subj', '/CN=www.example.com', '-addext', 'subjectAltName=DNS:www.example.com'], { stdio: 'ignore' })
    must('mkdir -p /etc/acme-responder/tls')
    docker(['cp', join(dir, 'www.crt'), `${name}:/etc/acme-responder/tls/www.crt`])
    docker(['cp', join(dir, 'www.key'), `${name}:/etc/acme-responder/tls/www.key`])
    must('chown root:acme-responder /etc/acme-responder/tls/www.key && chmod 640 /etc/acme-responder/tls/www.key && chmod 644 /etc/acme-responder/tls/www.crt')
    must('echo \'{ "master": "www.example.com", "tls-cert": ["/etc/acme-responder/tls/www.crt"], "tls-key": ["/etc/acme-responder/tls/www.key"] }\' > /etc/acme-responder.json')
    // Apache with mod_ssl on 443, the same certificate.
    must('printf \'<VirtualHost *:443>\\n  SSLEngine on\\n  SSLCertificateFile /etc/acme-responder/tls/www.crt\\n  SSLCertificateKeyFile /etc/acme-responder/tls/www.key\\n  DocumentRoot /var/www/html\\n</VirtualHost>\\n\' > /etc/apache2/sites-available/tls.conf')
    must('a2enmod -q ssl && a2ensite -q tls && systemctl restart apache2')
    // curl trusts only this certificate: an answer proves the host's certificate was served.
    const https = (): { status: number, body: string } => {
      const r = b.sh('curl -s -m 5 --cacert /etc/acme-responder/tls/www.crt --resolve www.example.com:443:127.0.0.1 -w \'\\n%{http_code}\' https://www.example.com/')
      const i = r.out.lastIndexOf('\n')
      return { status: Number(r.out.slice(i + 1)), body: r.out.slice(0, Math.max(0, i)) }
    }
    await b.until('Apache to answer on 443', () => /Apache2 Debian Default Page/.test(https().body))
    must('systemctl stop apache2')
    const took = await b.until('the responder to take over port 443 with the host\'s certificate', () => https().status === 503, 10_000)
    t.diagnostic(`responder answering on 443 ${took} ms after "systemctl stop apache2" returned`)
    assert.ok(responderAnswers(b), 'and on 80')
    must('systemctl start apache2')
    await b.until('Apache to have 443 again', () => /Apache2 Debian Default Page/.test(https().body))
    assert.equal(active(b, 'acme-responder'), 'inactive')
    assert.equal(failedUnits(b), '')
  })

  await t.test('both enabled at boot: Apache owns port 80 and nothing failed', async () => {
    docker(['restart', name])
    await b.until('systemd to boot again', () => /^(running|degraded)/.test(b.sh('systemctl is-system-running').out), 120_000)
    await b.until('Apache to answer after the boot', () => apacheAnswers(b))
    assert.equal(active(b, 'acme-responder'), 'inactive')
    assert.equal(failedUnits(b), '')
  })

  await t.test('Apache dead for good (a broken config): the responder serves', async () => {
    must('echo "ThisIsNotADirective" >> /etc/apache2/apache2.conf')
    assert.notEqual(b.sh('systemctl restart apache2').code, 0)
    await b.until('the responder to serve while Apache cannot start', () => responderAnswers(b), 10_000)
    assert.equal(active(b, 'acme-responder'), 'active')
    assert.equal(failedUnits(b).split('\n').map((l) => l.split(/\s+/)[0]).join(' '), 'apache2.service')
  })
}
