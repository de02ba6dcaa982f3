// RFC 7638 thumbprints from PEM and JWK keys, the thumbprint command, and stateless answers.
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../src/config/load.js'
import { publicKeyFrom, thumbprintFromKeyFile, thumbprintOfJwk } from '../src/config/thumbprint.js'
import { get, spawnCli, startResponder, tempDir } from './helpers.js'

// RFC 7638 §3.1.
const RFC_JWK = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29'
}
const RFC_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

test('RFC 7638 §3.1 example key gives the RFC\'s thumbprint, from JWK and from PEM', async (t) => {
  assert.equal(thumbprintOfJwk(RFC_JWK), RFC_THUMBPRINT)
  const dir = tempDir(t)
  writeFileSync(join(dir, 'key.jwk'), JSON.stringify(RFC_JWK))
  assert.equal(await thumbprintFromKeyFile(join(dir, 'key.jwk')), RFC_THUMBPRINT)
  const pem = publicKeyFrom(JSON.stringify(RFC_JWK)).export({ type: 'spki', format: 'pem' }) as string
  writeFileSync(join(dir, 'key.pem'), pem)
  assert.equal(await thumbprintFromKeyFile(join(dir, 'key.pem')), RFC_THUMBPRINT)
})

test('EC P-256 private key (as dehydrated and lego keep it) matches an independent computation', async (t) => {
  const dir = tempDir(t)
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = publicKey.export({ format: 'jwk' })
  // Independent: the canonical JSON written out by hand, member order crv, kty, x, y.
  const expected = createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${String(jwk.x)}","y":"${String(jwk.y)}"}`).digest('base64url')
  const file = join(dir, 'account_key.pem')
  writeFileSync(file, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 })
  assert.equal(await thumbprintFromKeyFile(file), expected)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const rfile = join(dir, 'rsa.pem')
  writeFileSync(rfile, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 })
  const rj = rsa.publicKey.export({ format: 'jwk' })
  assert.equal(await thumbprintFromKeyFile(rfile), createHash('sha256').update(`{"e":"${String(rj.e)}","kty":"RSA","n":"${String(rj.n)}"}`).digest('base64url'))
})

test('a private key readable by others is refused; garbage is refused', async (t) => {
  const dir = tempDir(t)
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const file = join(dir, 'open.pem')
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  chmodSync(file, 0o644)
  await assert.rejects(loadConfig({ flags: { 'account-key': file }, env: {}, platform: 'linux' }), /invalid --account-key: .* readable by others/)
  // A private JWK whose "d" is written with a JSON escape is a private key all the same.
  const jwk = JSON.stringify(privateKey.export({ format: 'jwk' })).replace('"d":', '"\\u0064":')
  assert.match(jwk, /"\\u0064":/)
  writeFileSync(join(dir, 'escaped.jwk'), jwk, { mode: 0o644 })
  chmodSync(join(dir, 'escaped.jwk'), 0o644)
  await assert.rejects(thumbprintFromKeyFile(join(dir, 'escaped.jwk')), /invalid --account-key: .* readable by others/)
  writeFileSync(join(dir, 'junk'), 'not a key')
  await assert.rejects(thumbprintFromKeyFile(join(dir, 'junk')), /invalid --account-key: .* not a PEM or JWK key/)
})

test('acme-responder thumbprint prints the thumbprint', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'key.jwk'), JSON.stringify(RFC_JWK))
  const cli = spawnCli(['thumbprint', '--account-key', join(dir, 'key.jwk')])
  assert.equal(await cli.exited, 0)
  assert.equal(cli.stdout, RFC_THUMBPRINT + '\n')
})

test('a secondary with only a thumbprint answers any valid token with its key authorization', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'local'), 'local.file.wins')
  const r = await startResponder({ 'challenge-dir': dir, master: ['www.example.com'], 'account-thumbprint': [RFC_THUMBPRINT] })
  t.after(() => r.close())
  const token = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA'
  const res = await get(r, `/.well-known/acme-challenge/${token}`, { host: 'mail.example.com' })
  assert.equal(res.status, 200)
  assert.equal(res.text, `${token}.${RFC_THUMBPRINT}`)
  assert.equal(res.headers['content-type'], 'application/jose+json')
  assert.equal((await get(r, '/.well-known/acme-challenge/local', { host: 'x' })).text, 'local.file.wins')
  assert.equal((await get(r, '/.well-known/acme-challenge/a.b', { host: 'x' })).status, 404)
})
