// What a SIGHUP rereads (the page, the config) is opened as token files are: a swapped-in link or FIFO is refused.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { linkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { get, oneLine, runCli, startCli, tempDir, waitFor } from './helpers.js'

const SECRET = 'the daemon log: tokens, addresses, user agents'

test('a page swapped for a symlink, a hard link or a FIFO, and a config swapped for a FIFO: each SIGHUP keeps the old, SIGTERM still stops', async (t) => {
  const dir = tempDir(t)
  const page = join(dir, 'page.html')
  const config = join(dir, 'config.json')
  const secret = join(dir, 'secret.log')
  writeFileSync(secret, SECRET, { mode: 0o640 })
  writeFileSync(page, '<p>back soon</p>')
  writeFileSync(config, JSON.stringify({ listen: ['127.0.18.1:0'], 'challenge-dir': dir, 'maintenance-page': page }))
  const cli = await startCli(['--config', config])
  t.after(() => cli.child.kill('SIGKILL'))
  const refusals = (): string[] => cli.stdout.split('\n').filter((l) => l.includes('"reload refused, keeping the running configuration"'))
  /** Sends SIGHUP and waits for the refusal it must cause, which names the file and why. */
  async function refused (why: RegExp): Promise<void> {
    const before = refusals().length
    cli.child.kill('SIGHUP')
    await waitFor(() => refusals().length > before, `a refusal matching ${String(why)}`, 20_000, () => `; stdout: ${cli.stdout}`)
    assert.match(String((JSON.parse(refusals().at(-1) ?? '{}') as { error?: unknown }).error), why)
    const a = await get({ host: '127.0.18.1', port: cli.port }, '/', { host: 'www.example.com' })
    assert.equal(a.text, '<p>back soon</p>', 'the old page is still served')
  }
  const swap = (make: (tmp: string) => void, target: string): void => {
    const tmp = join(dir, 'swap.tmp')
    rmSync(tmp, { force: true })
    make(tmp)
    renameSync(tmp, target)
  }
  swap((tmp) => symlinkSync(secret, tmp), page)
  await refused(/page\.html is a symbolic link/)
  swap((tmp) => linkSync(secret, tmp), page)
  await refused(/page\.html has 2 hard links/)
  swap((tmp) => execFileSync('mkfifo', [tmp]), page)
  await refused(/page\.html is a FIFO/)
  swap((tmp) => execFileSync('mkfifo', [tmp]), config)
  await refused(/config\.json is a FIFO/)
  assert.ok(!cli.stdout.includes(SECRET) && !cli.stderr.includes(SECRET))
  // The stop is not held by anything the reloads met.
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0)
})

test('a page or config that is a symlink or FIFO at start is refused with one line, exit 2', async (t) => {
  const dir = tempDir(t)
  const real = join(dir, 'real.html')
  writeFileSync(real, 'page')
  symlinkSync(real, join(dir, 'link.html'))
  execFileSync('mkfifo', [join(dir, 'fifo.json')])
  const link = await runCli(['--listen', '127.0.18.2:0', '--challenge-dir', dir, '--maintenance-page', join(dir, 'link.html')])
  assert.equal(link.code, 2)
  assert.match(oneLine(link.stderr), /^acme-responder: invalid --maintenance-page: .*link\.html is a symbolic link/)
  const fifo = await runCli(['--config', join(dir, 'fifo.json')])
  assert.equal(fifo.code, 2)
  assert.match(oneLine(fifo.stderr), /^acme-responder: invalid --config: .*fifo\.json is a FIFO/)
})
