// npm packaging: the tarball holds only what runs, and a global install into an empty prefix works.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { get, has, listenPort, tempDir } from './helpers.js'

const ROOT = new URL('../../', import.meta.url).pathname

function npm (args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } })
}

test('npm pack → npm install -g into an empty prefix → a working acme-responder', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t)
  // --ignore-scripts: dist/ is already built, and rebuilding it under running tests would race them.
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT)) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = packed[0]?.files.map((f) => f.path) ?? []
  for (const f of files) assert.match(f, /^(dist\/bin\/(acme-responder|program)\.cjs|man\/acme-responder\.8|rc\.d\/.+|README\.md|LICENSE|package\.json)$/, f)
  // The entry file (signal traps, a few hundred bytes) and the program it loads.
  assert.ok(files.includes('dist/bin/acme-responder.cjs') && files.includes('dist/bin/program.cjs'))
  assert.ok(files.includes('rc.d/acme_responder'))
  assert.ok(files.includes('rc.d/acme-responder.service'))
  assert.ok(!files.some((f) => f.includes('test') || f.endsWith('.ts') || f.endsWith('.map')))

  const prefix = join(dir, 'prefix')
  npm(['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(dir, packed[0]?.filename ?? '')], dir)
  const bin = join(prefix, 'bin', 'acme-responder')
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /^\d+\.\d+\.\d+/)
  // The bundle carries pino and yargs-parser; what it loads on demand (yargs, undici, tlds) is installed.
  const installed = join(prefix, 'lib', 'node_modules', 'acme-responder', 'node_modules')
  assert.ok(!existsSync(join(installed, 'pino')) && existsSync(join(installed, 'yargs')))
  assert.match(execFileSync(bin, ['check', '--help'], { encoding: 'utf8' }), /--allow-private/)
  // package.json's `man` field: npm links the page under the prefix, where `man -M` finds it.
  assert.ok(existsSync(join(prefix, 'share', 'man', 'man8', 'acme-responder.8')), 'the manual is installed')
  if (has('man')) {
    const page = execFileSync('man', ['-M', join(prefix, 'share', 'man'), 'acme-responder'], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } })
    assert.match(page, /acme-responder\s+[–—-]\s+answer ACME HTTP-01 challenges/)
  }

  const challenges = join(dir, 'challenges')
  execFileSync('mkdir', [challenges])
  writeFileSync(join(challenges, 'tok'), 'installed.answer')
  const { spawn } = await import('node:child_process')
  const child = spawn(bin, ['--listen', '127.0.0.11:0', '--challenge-dir', challenges], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const l = out.split('\n').find((x) => x.includes('acme-responder listening'))
      if (l !== undefined) resolve(l)
    })
    child.on('exit', (code) => reject(new Error(`exited ${String(code)}`)))
  })
  // The installed command runs node with the small young generation, whoever starts it (see cli.ts's first line).
  assert.match(readFileSync(`/proc/${child.pid ?? 0}/cmdline`, 'utf8'), /--max-semi-space-size=2/)
  const res = await get({ host: '127.0.0.11', port: listenPort(JSON.parse(line) as Record<string, unknown>) }, '/.well-known/acme-challenge/tok', { host: 'x' })
  assert.equal(res.text, 'installed.answer')
})
