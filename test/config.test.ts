// Configuration: validation messages, defaults, and precedence flags > env > file > defaults.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildConfig, ConfigError } from '../src/config/config.js'
import { loadConfig } from '../src/config/load.js'
import { RESTART_ONLY } from '../src/config/options.js'
import { get, startResponder, tempDir } from './helpers.js'

test('defaults: both wildcard listeners on 80, dehydrated\'s challenge dir, redirect 302', () => {
  const c = buildConfig({}, 'linux')
  assert.deepEqual(c.listen.map((l) => [l.host, l.port, l.ipv6Only]), [['0.0.0.0', 80, false], ['::', 80, true]])
  assert.equal(c.challengeDir, '/var/lib/dehydrated/acme-challenges')
  assert.equal(buildConfig({}, 'freebsd').challengeDir, '/usr/local/www/dehydrated')
  assert.equal(c.redirectStatus, 302)
  assert.equal(c.contentType, 'application/jose+json')
  assert.equal(c.maintenanceStatus, 503)
  assert.equal(c.retryAfter, 3600)
  assert.equal(c.maxTokenSize, 4096)
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.listen))
})

test('listen forms', () => {
  assert.deepEqual(buildConfig({ listen: ['127.0.0.2:8080', '[::1]:81'] }, 'linux').listen.map((l) => [l.host, l.port]), [['127.0.0.2', 8080], ['::1', 81]])
  assert.deepEqual(buildConfig({ listen: ':8080' }, 'linux').listen.map((l) => [l.host, l.port]), [['0.0.0.0', 8080], ['::', 8080]])
})

test('invalid values name the option and the problem', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ 'redirect-status': '303' }, 'redirect-status', /"303" must be one of 301, 302, 307, 308/],
    [{ listen: ['localhost:80'] }, 'listen', /ip:port/],
    [{ listen: ['1.2.3.4:70000'] }, 'listen', /above 65535/],
    [{ listen: ['[zz]:80'] }, 'listen', /IPv6/],
    [{ master: ['ftp://x'] }, 'master', /http/],
    [{ master: ['http://u:p@x'] }, 'master', /credentials/],
    [{ master: ['bad host!'] }, 'master', /host name|URL/],
    [{ mode: 'proxy' }, 'mode', /at least one --master/],
    [{ mode: 'tunnel' }, 'mode', /redirect, proxy/],
    [{ 'retry-after': '-1' }, 'retry-after', /whole number/],
    [{ 'maintenance-status': '700' }, 'maintenance-status', /out of range/],
    [{ 'log-level': 'loud' }, 'log-level', /must be one of/],
    [{ 'account-thumbprint': ['short'] }, 'account-thumbprint', /43 base64url/],
    [{ 'content-type': 'a\nb' }, 'content-type', /printable/],
    [{ alias: ['a b'] }, 'alias', /not a host name/],
    [{ 'proxy-budget': '1000', 'proxy-timeout': '2000' }, 'proxy-budget', /less than/],
    [{ 'challenge-dir': '' }, 'challenge-dir', /empty/],
    [{ 'metrics-listen': ':9180' }, 'metrics-listen', /must be one address/],
    [{ 'metrics-listen': 'localhost:9180' }, 'metrics-listen', /must be ip:port/],
    [{ 'metrics-listen': '127.0.0.1:99999' }, 'metrics-listen', /above 65535/]
  ]
  for (const [raw, option, problem] of cases) {
    assert.throws(() => buildConfig(raw, 'linux'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err))
      assert.equal(err.option, option)
      assert.match(err.message, new RegExp(`^invalid --${option}: `))
      assert.match(err.message, problem)
      assert.ok(!err.message.includes('\n'))
      return true
    }, JSON.stringify(raw))
  }
})

test('precedence: flags over environment over file over defaults', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'c.json')
  writeFileSync(file, JSON.stringify({ 'redirect-status': 301, retryAfter: 60, 'content-type': 'text/plain', alias: ['a.example'] }))
  const env = { ACME_RESPONDER_RETRY_AFTER: '120', ACME_RESPONDER_CONTENT_TYPE: 'application/octet-stream', ACME_RESPONDER_ALIAS: 'b.example,c.example' }
  const c = await loadConfig({ flags: { config: file, 'content-type': 'text/x-flag' }, env, platform: 'linux' })
  assert.equal(c.redirectStatus, 301) // file
  assert.equal(c.retryAfter, 120) // env over file
  assert.equal(c.contentType, 'text/x-flag') // flag over env
  assert.deepEqual(c.aliases, ['b.example', 'c.example'])
  assert.equal(c.maintenanceStatus, 503) // default
})

test('config file problems are ConfigErrors naming --config', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[string, RegExp]> = [['{"nope": 1}', /unknown option "nope"/], ['{oops', /JSON|Unexpected|Expected/], ['[1]', /one JSON object/]]
  for (const [text, re] of cases) {
    const file = join(dir, 'c.json')
    writeFileSync(file, text)
    await assert.rejects(loadConfig({ flags: { config: file }, env: {}, platform: 'linux' }), (err: unknown) => err instanceof ConfigError && err.option === 'config' && re.test(err.message))
  }
  await assert.rejects(loadConfig({ flags: { config: join(dir, 'missing.json') }, env: {}, platform: 'linux' }), /ENOENT/)
  await assert.rejects(loadConfig({ flags: { 'challenge-dir': join(dir, 'c.json') }, env: {}, platform: 'linux' }), /invalid --challenge-dir: .* is not a directory/)
})

test('a reload applies what it can and names what only a restart changes, max-header-size included', async (t) => {
  const dir = tempDir(t)
  const r = await startResponder({ 'challenge-dir': dir, 'retry-after': '60' })
  t.after(() => r.close())
  await r.server.reload(buildConfig({ listen: ['127.0.0.2:0'], 'challenge-dir': dir, 'retry-after': '120', 'max-header-size': '16384', 'log-file': join(dir, 'x.log') }, 'linux'))
  const restartOnly = r.logs.filter((l) => String(l.msg).endsWith('changes only on restart')).map((l) => l.option)
  assert.deepEqual(restartOnly.sort(), ['listen', 'logFile', 'maxHeaderSize'])
  assert.equal((await get(r, '/', { host: 'x' })).headers['retry-after'], '120')
  assert.deepEqual(RESTART_ONLY, ['listen', 'listenTls', 'logFile', 'metricsListen', 'user', 'group', 'maxHeaderSize'])
})

test('the serve fast path parses like the full command line, and hands everything else to yargs', async () => {
  const { serveFlags } = await import('../src/commands.js')
  assert.deepEqual(serveFlags(['--listen', '127.0.0.1:80', '--listen', '[::1]:80', '--master=m.example.com', '--mode', 'proxy']),
    { listen: ['127.0.0.1:80', '[::1]:80'], master: ['m.example.com'], mode: 'proxy' })
  assert.deepEqual(serveFlags(['serve', '--retry-after', '60']), { 'retry-after': '60' })
  assert.deepEqual(serveFlags(['--max-connections=-1', '--listen', '']), { 'max-connections': '-1', listen: [''] })
  assert.deepEqual(serveFlags([]), {})
  for (const args of [['check', 'x'], ['thumbprint'], ['--help'], ['-h'], ['--version'], ['--no-such-flag'], ['extra'], ['--', 'x'], ['serve', '--help']]) {
    assert.equal(serveFlags(args), undefined, args.join(' '))
  }
})
