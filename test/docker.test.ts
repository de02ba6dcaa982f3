// Everything that needs the Docker engine, one test after the other on the one engine: the image (multi-stage,
// non-root, listening on 80, healthy, three answers), and the systemd unit and Apache fallback under real systemd.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { BASE, buildBase, docker, engine } from './docker/engine.js'
import { systemdTests } from './docker/systemd.js'
import { has, tempDir } from './helpers.js'

const ROOT = new URL('../../', import.meta.url).pathname
const IMAGE = 'acme-responder-test:latest'

// Runs inside the container (its own network namespace, no network): the three answers over loopback.
const PROBE = `
const http = require('node:http')
const get = (path, host) => new Promise((resolve) => http.get({ host: '127.0.0.1', port: 80, path, headers: { host } }, (res) => {
  let body = ''; res.on('data', (c) => { body += c }); res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location, body }))
}))
Promise.all([get('/.well-known/acme-challenge/tok', 'www.example.com'), get('/.well-known/acme-challenge/other', 'mail.example.com'), get('/', 'x')])
  .then((r) => console.log(JSON.stringify(r)))
`

const e = await engine()
after(() => { if (typeof e !== 'string') e.stop() })

function needsEngine (t: { skip: (why: string) => void }): boolean {
  if (typeof e !== 'string') return true
  process.stderr.write(`\n*** DOCKER TESTS SKIPPED: ${e} ***\n\n`)
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(`the Docker tests cannot run in CI: ${e}`)
  t.skip(e)
  return false
}

test('Docker image: build, run as non-root on port 80, healthy, token + redirect + maintenance', { timeout: 900_000 }, async (t) => {
  if (!needsEngine(t)) return
  if (spawnSync('docker', ['image', 'inspect', BASE], { stdio: 'ignore' }).status !== 0 && !has('debootstrap')) {
    throw new Error('building the local base image needs debootstrap (Debian package debootstrap)')
  }
  buildBase()
  // Host networking for the build only: npm ci reaches the registry as the host does.
  docker(['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${BASE}`, '-t', IMAGE, ROOT])
  t.after(() => { spawnSync('docker', ['rmi', '-f', IMAGE], { stdio: 'ignore' }) })

  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'tok'), 'tok.from-volume')
  chmodSync(join(dir, 'tok'), 0o644)
  const name = `acme-responder-test-${process.pid}`
  docker(['run', '-d', '--name', name, '--network', 'none', '--health-interval', '1s', '--health-start-period', '1s',
    '-v', `${dir}:/var/lib/dehydrated/acme-challenges:ro`, IMAGE,
    '--listen', ':80', '--challenge-dir', '/var/lib/dehydrated/acme-challenges', '--master', 'www.example.com'])
  t.after(() => { spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' }) })

  let health = ''
  for (let i = 0; i < 60 && health !== 'healthy'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    health = docker(['inspect', '--format', '{{.State.Health.Status}}', name]).trim()
  }
  assert.equal(health, 'healthy', docker(['logs', name]))
  assert.match(docker(['exec', name, 'cat', '/proc/1/status']), /^Uid:\s+65534\s+65534\s+65534\s+65534$/m)
  // The manual ships in the image, where man(1) looks.
  assert.match(docker(['exec', name, 'head', '-c', '200', '/usr/local/share/man/man8/acme-responder.8']), /^\.\\" acme-responder\(8\)/)
  const [token, redirect, maintenance] = JSON.parse(docker(['exec', name, 'node', '-e', PROBE])) as Array<{ status: number, location?: string, body: string }>
  assert.deepEqual(token, { status: 200, body: 'tok.from-volume' })
  assert.equal(redirect?.status, 302)
  assert.equal(redirect?.location, 'http://www.example.com/.well-known/acme-challenge/other')
  assert.equal(maintenance?.status, 503)
  assert.match(maintenance?.body ?? '', /maintenance/i)
  // Production dependencies only in the final image: what the bundle loads on demand, not what it carries.
  const modules = docker(['run', '--rm', '--network', 'none', '--entrypoint', 'ls', IMAGE, '/app/node_modules'])
  assert.match(modules, /undici/)
  assert.doesNotMatch(modules, /typescript|eslint|esbuild|pino/)
})

test('systemd: the unit and the Apache fallback under a real systemd with a real Apache', { timeout: 1_200_000 }, async (t) => {
  if (!needsEngine(t)) return
  await systemdTests(t)
})
