// RFC 7638 JWK thumbprints of ACME account keys, for stateless answers (<token>.<thumbprint>).
import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { ConfigError } from './error.js'

/** RFC 7638 §3.2: only the required members, in lexicographic order. */
const REQUIRED: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x']
}

export function thumbprintOfJwk (jwk: JsonWebKey): string {
  const members = REQUIRED[String(jwk.kty)]
  if (members === undefined) throw new Error(`unsupported key type ${String(jwk.kty)}`)
  const canonical: Record<string, unknown> = {}
  for (const m of members) {
    if (typeof jwk[m] !== 'string') throw new Error(`key lacks the "${m}" member`)
    canonical[m] = jwk[m]
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url')
}

export function thumbprintOfKey (key: KeyObject): string {
  return thumbprintOfJwk(key.export({ format: 'jwk' }))
}

/** Parses a PEM key (public or private, RSA/EC/Ed25519) or a JWK JSON document; keeps only the public half. */
export function publicKeyFrom (text: string): KeyObject {
  const trimmed = text.trim()
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as JsonWebKey & { keys?: JsonWebKey[] }
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk
    return createPublicKey({ key: pub, format: 'jwk' })
  }
  return createPublicKey(trimmed)
}

/** Whether the text holds a private key: judged on the parsed JWK, as `"\u0064"` is a "d" too. */
function isPrivate (text: string): boolean {
  if (/PRIVATE KEY-----/.test(text)) return true
  let jwk: unknown
  try {
    jwk = JSON.parse(text)
  } catch {
    return false
  }
  const keys = (jwk as { keys?: unknown }).keys
  return [jwk, ...Array.isArray(keys) ? keys : []].some((k) => typeof k === 'object' && k !== null && 'd' in k)
}

export async function thumbprintFromKeyFile (file: string): Promise<string> {
  let text: string
  let mode: number
  try {
    text = await readFile(file, 'utf8')
    mode = (await stat(file)).mode
  } catch (err) {
    throw new ConfigError('account-key', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  // The private key signs for the whole ACME account: never accept one that others can read.
  if (isPrivate(text) && (mode & 0o004) !== 0) {
    throw new ConfigError('account-key', `${file} holds a private key readable by others: chmod 600 it, or give the public key`)
  }
  try {
    return thumbprintOfKey(publicKeyFrom(text))
  } catch (err) {
    throw new ConfigError('account-key', `${file} is not a PEM or JWK key: ${(err as Error).message}`)
  }
}
