// The token store, both ways (synchronous with a cache, and asynchronous for network file systems), on real files.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { createTokenStore, isLocalFileSystem } from '../src/serve/token-store.js'
import { tempDir } from './helpers.js'

test('the file system test knows local file systems', (t) => {
  const dir = tempDir(t)
  assert.equal(isLocalFileSystem(join(dir, 'not', 'yet', 'there'), 'linux'), isLocalFileSystem(dir, 'linux'))
  assert.equal(isLocalFileSystem(dir, 'freebsd'), false, 'elsewhere the asynchronous reader is used')
})

for (const local of [true, false]) {
  const mode = local ? 'synchronous + cache' : 'asynchronous'
  test(`token store (${mode}): found, missing, unusable, and always fresh`, async (t) => {
    const dir = tempDir(t)
    const store = createTokenStore(dir, 100, local)
    assert.equal(store.sync, local)
    const read = async (token: string) => await store.lookup(token)
    writeFileSync(join(dir, 'a'), 'first')
    assert.deepEqual(await read('a'), { kind: 'found', body: Buffer.from('first') })
    assert.deepEqual(await read('nope'), { kind: 'missing' })
    // An old file is cached; a rewrite of the same size right after is still seen.
    const old = new Date(Date.now() - 60_000)
    utimesSync(join(dir, 'a'), old, old)
    await read('a')
    writeFileSync(join(dir, 'a'), 'secnd')
    assert.equal((await read('a')).kind === 'found' && (await read('a') as { body: Buffer }).body.toString(), 'secnd')
    writeFileSync(join(dir, 'a'), 'third')
    assert.equal((await read('a') as { body: Buffer }).body.toString(), 'third')
    rmSync(join(dir, 'a'))
    assert.deepEqual(await read('a'), { kind: 'missing' })

    symlinkSync('/etc/passwd', join(dir, 'link'))
    mkdirSync(join(dir, 'dir'))
    execFileSync('mkfifo', [join(dir, 'fifo')])
    writeFileSync(join(dir, 'big'), 'x'.repeat(101))
    writeFileSync(join(dir, 'cap'), 'x'.repeat(100))
    const expect: Record<string, RegExp> = { link: /symbolic link/, dir: /directory/, fifo: /FIFO/, big: /cap/ }
    for (const [token, why] of Object.entries(expect)) {
      const r = await read(token)
      assert.equal(r.kind, 'unusable', token)
      assert.match(r.kind === 'unusable' ? r.why : '', why, token)
      assert.equal(r.kind === 'unusable' ? r.file : '', join(dir, token))
    }
    assert.equal((await read('cap') as { body: Buffer }).body.length, 100)
    // A token replaced by a symlink after it was cached is refused, not served from the cache.
    writeFileSync(join(dir, 'swap'), 'real')
    utimesSync(join(dir, 'swap'), old, old)
    await read('swap')
    rmSync(join(dir, 'swap'))
    symlinkSync('/etc/passwd', join(dir, 'swap'))
    assert.equal((await read('swap')).kind, 'unusable')
  })
}
