// Service files: the FreeBSD rc.d script under a working model of rc.subr and daemon(8), and the systemd unit.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { CLI, get, has, tempDir, waitFor } from './helpers.js'
import { freePort } from './ports.js'
import { buildConfig } from '../src/config/config.js'
import { MAX_PROXY_MS } from '../src/config/options.js'
import { drainGrace } from '../src/serve/serve.js'

const P = '/.well-known/acme-challenge/'

const RC = new URL('../../rc.d/acme_responder', import.meta.url).pathname
const UNIT = new URL('../../rc.d/acme-responder.service', import.meta.url).pathname

const RC_SUBR = new URL('../../test/rc/rc.subr', import.meta.url).pathname
const DAEMON = new URL('../../test/rc/daemon', import.meta.url).pathname

test('rc.d script passes shellcheck', { skip: has('shellcheck') ? false : 'shellcheck is not installed (Debian package shellcheck)' }, () => {
  const r = spawnSync('shellcheck', ['-s', 'sh', RC], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('rc.d script under a model of rc.subr and daemon(8): start, status, reload, supervision, restart, stop', { skip: process.getuid?.() === 0 ? false : 'needs root: the program binds as root and drops to nobody' }, async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  const run = join(dir, 'run')
  const logs = join(dir, 'log')
  const challenges = join(dir, 'challenges')
  for (const d of [run, logs, challenges]) mkdirSync(d, { mode: 0o755 })
  writeFileSync(join(challenges, 'tok'), 'tok.from-rc', { mode: 0o644 })
  const bin = join(dir, 'acme-responder')
  writeFileSync(bin, `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`, { mode: 0o755 })
  const script = join(dir, 'acme_responder')
  writeFileSync(script, readFileSync(RC, 'utf8').replace('. /etc/rc.subr', `. ${RC_SUBR}`).replaceAll('/var/run/', `${run}/`).replaceAll('/usr/sbin/daemon', DAEMON))
  const port = await freePort('127.0.3.60')
  const tlsPort = await freePort('127.0.3.60')
  const group = execFileSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).trim()
  // HTTPS through the rc.conf knobs: a certificate, its key readable by the runas group.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'www.key'), '-out', join(dir, 'www.crt'),
    '-days', '2', '-subj', '/CN=www.example.com', '-addext', 'subjectAltName=DNS:www.example.com'], { stdio: 'ignore' })
  execFileSync('chgrp', [group, join(dir, 'www.key')])
  chmodSync(join(dir, 'www.key'), 0o640)
  const logfile = join(logs, 'acme-responder.log')
  const rcconf = join(dir, 'rc.conf')
  writeFileSync(rcconf, [
    'acme_responder_enable="YES"', `acme_responder_challenge_dir="${challenges}"`, 'acme_responder_master="www.example.com"',
    'acme_responder_runas_user="nobody"', `acme_responder_runas_group="${group}"`, `acme_responder_logfile="${logfile}"`,
    `acme_responder_tls_cert="${join(dir, 'www.crt')}"`, `acme_responder_tls_key="${join(dir, 'www.key')}"`,
    `acme_responder_bin="${bin}"`, `acme_responder_flags="--listen 127.0.3.60:${port} --listen-tls 127.0.3.60:${tlsPort} --alias mysql.example.com"`, ''
  ].join('\n'))
  const rc = (cmd: string): { code: number | null, out: string } => {
    const r = spawnSync('sh', [script, cmd], { encoding: 'utf8', env: { PATH: process.env.PATH, RC_CONF: rcconf, RC_CONF_D: join(dir, 'rc.conf.d'), DAEMON_MODEL_LOG: join(logs, 'daemon-output.log') } })
    return { code: r.status, out: r.stdout + r.stderr }
  }
  const pidOf = (f: string): number => Number(readFileSync(join(run, f), 'utf8').trim())
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  const answers = async (): Promise<boolean> => get({ host: '127.0.3.60', port }, P + 'tok', { host: 'mail.example.com' }).then((r) => r.text === 'tok.from-rc', () => false)
  const serving = (what: string): Promise<number> => waitFor(answers, `answers ${what}`, 20_000, () => `; program output: ${readFileSync(join(logs, 'daemon-output.log'), 'utf8')}`)
  /** start or restart: it succeeds, the program answers, and the two pids are read. */
  const startedBy = async (cmd: string): Promise<{ supervisor: number, child: number }> => {
    const r = rc(cmd)
    assert.equal(r.code, 0, r.out)
    await serving(`after ${cmd}`)
    return { supervisor: pidOf('acme_responder.pid'), child: pidOf('acme_responder_child.pid') }
  }
  t.after(() => {
    for (const f of ['acme_responder.pid', 'acme_responder_child.pid']) { try { process.kill(pidOf(f), 'SIGKILL') } catch {} }
  })

  const { supervisor, child } = await startedBy('start')
  assert.notEqual(supervisor, child)
  // daemon(8) runs as root; the program bound port 80-style as root and then dropped to nobody.
  assert.match(readFileSync(`/proc/${supervisor}/status`, 'utf8'), /^Uid:\s+0\s/m)
  assert.match(readFileSync(`/proc/${child}/status`, 'utf8'), /^Uid:\s+65534\s+65534\s+65534\s+65534$/m)
  assert.match(readFileSync(`/proc/${child}/environ`, 'utf8'), /NODE_OPTIONS=--max-semi-space-size=2/)
  assert.equal((await get({ host: '127.0.3.60', port }, P + 'other', { host: 'mail.example.com' })).headers.location, 'http://www.example.com/.well-known/acme-challenge/other')
  assert.equal((await get({ host: '127.0.3.60', port }, '/', { host: 'mail.example.com' })).status, 503)
  assert.equal(statSync(logfile).uid, 65534, 'the log file belongs to the dropped user')
  const cn = await new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.3.60', port: tlsPort, servername: 'www.example.com', rejectUnauthorized: false }, () => { resolve(String(s.getPeerCertificate().subject.CN)); s.end() })
    s.on('error', reject)
  })
  assert.equal(cn, 'www.example.com', 'HTTPS with the certificate of the rc.conf knobs')

  const status = rc('status')
  assert.equal(status.code, 0, status.out)
  assert.match(status.out, new RegExp(`acme_responder is running as pid ${supervisor}\\.`))

  const reloaded = rc('reload')
  assert.equal(reloaded.code, 0, reloaded.out)
  await waitFor(() => readFileSync(logfile, 'utf8').includes('configuration reloaded'), 'the reload to reach the program')
  assert.ok(alive(supervisor) && alive(child), 'reload kills neither daemon(8) nor the program')

  // Supervision: a program that dies is started again by daemon(8).
  process.kill(child, 'SIGKILL')
  await waitFor(() => existsSync(join(run, 'acme_responder_child.pid')) && pidOf('acme_responder_child.pid') !== child, 'daemon(8) to restart the program')
  await serving('after the restart by daemon(8)')

  const { supervisor: supervisor2, child: child2 } = await startedBy('restart')
  assert.notEqual(supervisor2, supervisor)

  const stopped = rc('stop')
  assert.equal(stopped.code, 0, stopped.out)
  assert.ok(!alive(supervisor2), 'daemon(8) is gone')
  assert.ok(!alive(child2), 'stop waited for the program to drain and exit')
  assert.ok(!existsSync(join(run, 'acme_responder.pid')) && !existsSync(join(run, 'acme_responder_child.pid')))
  assert.equal(await answers(), false)
  const after = rc('status')
  assert.equal(after.code, 1)
  assert.match(after.out, /acme_responder is not running\./)
})

test('systemd unit: capability instead of root, reload by HUP, hardening', (t) => {
  const unit = readFileSync(UNIT, 'utf8')
  for (const line of ['AmbientCapabilities=CAP_NET_BIND_SERVICE', 'Environment=NODE_OPTIONS=--max-semi-space-size=2', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure', 'ProtectSystem=strict', 'ProtectHome=yes', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ReadOnlyPaths=-/var/lib/dehydrated/acme-challenges']) {
    assert.ok(unit.split('\n').includes(line), line)
  }
  assert.match(unit, /^User=acme-responder$/m)
  // systemd must not kill a drain that the program is still allowed to take.
  const stopSec = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1])
  const longest = drainGrace(buildConfig({ 'proxy-timeout': String(MAX_PROXY_MS), 'proxy-budget': String(MAX_PROXY_MS) }, 'linux'))
  assert.ok(stopSec * 1000 >= longest + 5000, `TimeoutStopSec=${stopSec}s against a drain of up to ${longest} ms`)
  assert.doesNotMatch(unit, /^User=root$/m)
  if (!has('systemd-analyze')) {
    t.diagnostic('systemd-analyze is not installed: unit not verified')
    return
  }
  const dir = tempDir(t)
  // verify insists that ExecStart exists: point it at the built program.
  writeFileSync(join(dir, 'acme-responder.service'), unit.replace('/usr/local/bin/acme-responder', `${process.execPath} ${CLI}`))
  const r = spawnSync('systemd-analyze', ['verify', join(dir, 'acme-responder.service')], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.equal(r.stderr.trim(), '', r.stderr)
})
