// HTTPS: certificates made here with openssl, chosen by SNI, renewed on SIGHUP, refused when unsafe; same answers as port 80.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect, type PeerCertificate } from 'node:tls'
import { oneLine, runCli, startCli, tempDir } from './helpers.js'

const P = '/.well-known/acme-challenge/'
const isRoot = process.getuid?.() === 0
const rootOnly = { skip: isRoot ? false : 'needs root (the suite runs as root in CI)' }

/** A self-signed certificate for the names, its key 0600; returns the files and the serial. */
function certificate (dir: string, stem: string, names: string[]): { cert: string, key: string } {
  const cert = join(dir, `${stem}.crt`)
  const key = join(dir, `${stem}.key`)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${names[0] ?? 'x'}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`], { stdio: 'ignore' })
  chmodSync(key, 0o600)
  return { cert, key }
}

interface Hello { cert: PeerCertificate, protocol: string | null, alpn: string | false | null }

/** A TLS handshake (and optionally one HTTP request) as a browser would make it, trusting anything. */
function hello (port: number, host: string, servername: string | undefined, request?: string, extra: Record<string, unknown> = {}): Promise<Hello & { answer: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, ...servername === undefined ? {} : { servername }, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...extra }, () => {
      const got = { cert: s.getPeerCertificate(), protocol: s.getProtocol(), alpn: s.alpnProtocol }
      if (request === undefined) {
        s.end()
        resolve({ ...got, answer: '' })
        return
      }
      let answer = ''
      s.setEncoding('utf8')
      s.on('data', (c: string) => { answer += c })
      s.on('end', () => resolve({ ...got, answer }))
      s.write(request)
    })
    s.on('error', reject)
  })
}

const GET = (path: string, host: string): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`

function tlsPort (cli: { stdout: string }): number {
  const line = cli.stdout.split('\n').find((l) => l.includes('acme-responder listening')) ?? '{}'
  const where = String((JSON.parse(line) as { listenTls?: string[] }).listenTls?.[0])
  return Number(where.slice(where.lastIndexOf(':') + 1))
}

test('SNI picks each name\'s certificate, wildcards included; no SNI gets the first; TLS 1.2+ and ALPN http/1.1', async (t) => {
  const dir = tempDir(t)
  const a = certificate(dir, 'a', ['www.example.test'])
  const b = certificate(dir, 'b', ['mail.example.test', '*.shop.example.test'])
  const cli = await startCli(['--listen', '127.0.15.1:0', '--listen-tls', '127.0.15.1:0', '--challenge-dir', dir,
    '--tls-cert', a.cert, '--tls-key', a.key, '--tls-cert', b.cert, '--tls-key', b.key])
  t.after(() => cli.child.kill('SIGKILL'))
  const port = tlsPort(cli)
  assert.equal((await hello(port, '127.0.15.1', 'www.example.test')).cert.subject.CN, 'www.example.test')
  assert.equal((await hello(port, '127.0.15.1', 'mail.example.test')).cert.subject.CN, 'mail.example.test')
  assert.equal((await hello(port, '127.0.15.1', 'eu.shop.example.test')).cert.subject.CN, 'mail.example.test')
  assert.equal((await hello(port, '127.0.15.1', 'unknown.example.test')).cert.subject.CN, 'www.example.test')
  const plain = await hello(port, '127.0.15.1', undefined)
  assert.equal(plain.cert.subject.CN, 'www.example.test')
  assert.match(String(plain.protocol), /^TLSv1\.[23]$/)
  assert.equal(plain.alpn, 'http/1.1')
  // TLS 1.1 is refused by the server (the client allows it, at the lowest security level).
  await assert.rejects(hello(port, '127.0.15.1', 'www.example.test', undefined, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }))
  // And counted, not logged one by one: the first failure's line says so.
  await cli.line((l) => l.kind === 'tls handshake failed')
})

test('the challenge path and the maintenance page answer over TLS as on port 80', async (t) => {
  const dir = tempDir(t)
  const a = certificate(dir, 'a', ['mail.example.test'])
  writeFileSync(join(dir, 'tok123'), 'tok123.thumb')
  const cli = await startCli(['--listen', '127.0.15.2:0', '--listen-tls', '127.0.15.2:0', '--challenge-dir', dir, '--master', 'www.example.test', '--tls-cert', a.cert, '--tls-key', a.key])
  t.after(() => cli.child.kill('SIGKILL'))
  const port = tlsPort(cli)
  const over = async (path: string): Promise<string> => (await hello(port, '127.0.15.2', 'mail.example.test', GET(path, 'mail.example.test'))).answer
  assert.match(await over(P + 'tok123'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\ntok123\.thumb$/)
  assert.match(await over(P + 'other'), /^HTTP\/1\.1 302 Found\r\n[\s\S]*location: http:\/\/www\.example\.test\/\.well-known\/acme-challenge\/other\r\n/i)
  const page = await over('/')
  assert.match(page, /^HTTP\/1\.1 503 /)
  // No HSTS, and no redirect to https: nothing that outlives Apache's return.
  assert.doesNotMatch(page, /strict-transport-security/i)
})

test('a renewed certificate is served after SIGHUP; an unreadable key on reload keeps the old one and the process', rootOnly, async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  const a = certificate(dir, 'a', ['www.example.test'])
  // Readable by the service user's group, as README's deploy hooks leave it.
  execFileSync('chgrp', ['nogroup', a.key])
  chmodSync(a.key, 0o640)
  chmodSync(a.cert, 0o644)
  const cli = await startCli(['--listen', '127.0.15.3:0', '--listen-tls', '127.0.15.3:0', '--challenge-dir', dir, '--user', 'nobody', '--group', 'nogroup', '--tls-cert', a.cert, '--tls-key', a.key])
  t.after(() => cli.child.kill('SIGKILL'))
  const port = tlsPort(cli)
  const serial = async (): Promise<string> => (await hello(port, '127.0.15.3', 'www.example.test')).cert.serialNumber
  const before = await serial()
  // The ACME client renews: new files in the same places, then SIGHUP.
  const renewed = certificate(dir, 'a', ['www.example.test'])
  execFileSync('chgrp', ['nogroup', renewed.key])
  chmodSync(renewed.key, 0o640)
  chmodSync(renewed.cert, 0o644)
  cli.child.kill('SIGHUP')
  await cli.line((l) => l.msg === 'configuration reloaded')
  const after = await serial()
  assert.notEqual(after, before)
  // A key the service user cannot read (root's 0600 again): the reload is refused, naming the file.
  const third = certificate(dir, 'a', ['www.example.test'])
  chmodSync(third.key, 0o600)
  cli.child.kill('SIGHUP')
  await cli.line((l) => l.msg === 'reload refused, keeping the running configuration' && String(l.error).includes('a.key'))
  assert.equal(await serial(), after)
  assert.equal(cli.child.exitCode, null)
})

test('a key readable by others, a missing key and an unpaired certificate stop the start: exit 2, one line naming it', async (t) => {
  const dir = tempDir(t)
  const a = certificate(dir, 'a', ['www.example.test'])
  const base = ['--listen', '127.0.15.4:0', '--listen-tls', '127.0.15.4:0', '--challenge-dir', dir]
  chmodSync(a.key, 0o644)
  const open = await runCli([...base, '--tls-cert', a.cert, '--tls-key', a.key])
  assert.equal(open.code, 2)
  assert.match(oneLine(open.stderr), /^acme-responder: invalid --tls-key: .*a\.key is readable by others/)
  chmodSync(a.key, 0o600)
  const missing = await runCli([...base, '--tls-cert', a.cert, '--tls-key', join(dir, 'nope.key')])
  assert.equal(missing.code, 2)
  assert.match(oneLine(missing.stderr), /^acme-responder: invalid --tls-key: .*nope\.key cannot be read: ENOENT/)
  const unpaired = await runCli([...base, '--tls-cert', a.cert])
  assert.equal(unpaired.code, 2)
  assert.match(oneLine(unpaired.stderr), /^acme-responder: invalid --tls-key: 0 key\(s\) for 1 certificate\(s\)/)
  const other = certificate(dir, 'b', ['mail.example.test'])
  const mismatched = await runCli([...base, '--tls-cert', a.cert, '--tls-key', other.key])
  assert.equal(mismatched.code, 2)
  assert.match(oneLine(mismatched.stderr), /is not the key of .*a\.crt/)
})
