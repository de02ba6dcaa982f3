// Service files: the FreeBSD rc.d script (shellcheck, and run against a recording rc.subr) and the systemd unit.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { CLI, tempDir } from './helpers.js'

const RC = new URL('../../rc.d/acme_responder', import.meta.url).pathname
const UNIT = new URL('../../rc.d/acme-responder.service', import.meta.url).pathname

function has (cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
}

/** Just enough of rc.subr(8) to show what run_rc_command would execute and signal. */
const STAND_IN = `
load_rc_config() { . "$RC_CONF"; }
checkyesno() { eval "_v=\\\${$1}"; case "$_v" in [Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;; *) return 1 ;; esac; }
err() { echo "err $*" >> "$RC_LOG"; exit "$1"; }
kill() { echo "kill $*" >> "$RC_LOG"; }
run_rc_command() {
  eval "rc_flags=\\\${\${name}_flags}"
  eval "_env=\\\${\${name}_env}"
  case "$1" in
  start)
    checkyesno "$rcvar" || { echo "disabled" >> "$RC_LOG"; return 0; }
    if [ -n "$start_precmd" ]; then $start_precmd || return 1; fi
    echo "exec \${_env:+env $_env }$command $rc_flags $command_args" >> "$RC_LOG" ;;
  stop) kill -TERM "$(cat "$pidfile")" ;;
  status) echo "status $pidfile $procname" >> "$RC_LOG" ;;
  reload) $reload_cmd ;;
  esac
}
`

test('rc.d script passes shellcheck', { skip: has('shellcheck') ? false : 'shellcheck is not installed (Debian package shellcheck)' }, () => {
  const r = spawnSync('shellcheck', ['-s', 'sh', RC], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('rc.d script: daemon(8) flags, program flags, reload signals the child, stop the supervisor', (t) => {
  const dir = tempDir(t)
  const run = join(dir, 'run')
  execFileSync('mkdir', ['-p', run])
  writeFileSync(join(run, 'acme_responder.pid'), '111\n')
  writeFileSync(join(run, 'acme_responder_child.pid'), '222\n')
  writeFileSync(join(dir, 'rc.subr'), STAND_IN)
  const script = readFileSync(RC, 'utf8').replace('. /etc/rc.subr', `. ${join(dir, 'rc.subr')}`).replaceAll('/var/run/', `${run}/`)
  writeFileSync(join(dir, 'acme_responder'), script)
  const user = userInfo().username
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()
  const log = join(dir, 'rc.log')
  const logfile = join(dir, 'acme-responder.log')
  const rcconf = (enable: string): void => writeFileSync(join(dir, 'rc.conf'), [
    `acme_responder_enable="${enable}"`, 'acme_responder_master="www.example.com"', 'acme_responder_flags="--alias mysql.example.com"',
    `acme_responder_user="${user}"`, `acme_responder_group="${group}"`, `acme_responder_logfile="${logfile}"`,
    'acme_responder_config="/usr/local/etc/acme-responder.json"', ''
  ].join('\n'))
  const rc = (cmd: string): string => {
    writeFileSync(log, '')
    execFileSync('sh', [join(dir, 'acme_responder'), cmd], { env: { PATH: process.env.PATH, RC_CONF: join(dir, 'rc.conf'), RC_LOG: log } })
    return readFileSync(log, 'utf8').trim()
  }

  rcconf('NO')
  assert.equal(rc('start'), 'disabled')
  rcconf('YES')
  const start = rc('start').replace(/\s+/g, ' ')
  assert.equal(start, `exec env NODE_OPTIONS=--max-semi-space-size=2 /usr/sbin/daemon -r -P ${run}/acme_responder.pid -p ${run}/acme_responder_child.pid -T acme_responder ` +
    `/usr/local/bin/acme-responder --challenge-dir /usr/local/www/dehydrated --user ${user} --group ${group} --log-file ${logfile} ` +
    '--master www.example.com --config /usr/local/etc/acme-responder.json --alias mysql.example.com')
  assert.ok(!start.includes(' -u '), 'daemon(8) must not drop privileges before the bind')
  assert.equal(readFileSync(logfile, 'utf8'), '', 'the log file is created for the unprivileged user')
  assert.equal(rc('reload'), 'kill -HUP 222')
  assert.equal(rc('stop'), 'kill -TERM 111')
  assert.equal(rc('status'), `status ${run}/acme_responder.pid /usr/sbin/daemon`)
})

test('systemd unit: capability instead of root, reload by HUP, hardening', (t) => {
  const unit = readFileSync(UNIT, 'utf8')
  for (const line of ['AmbientCapabilities=CAP_NET_BIND_SERVICE', 'Environment=NODE_OPTIONS=--max-semi-space-size=2', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure', 'ProtectSystem=strict', 'ProtectHome=yes', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ReadOnlyPaths=/var/lib/dehydrated/acme-challenges']) {
    assert.ok(unit.split('\n').includes(line), line)
  }
  assert.match(unit, /^User=acme-responder$/m)
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
