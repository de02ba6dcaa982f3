// The HTTPS certificates: read safely, checked (key matches, key not readable by others), chosen by SNI.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import type { Stats } from 'node:fs'
import { createSecureContext, type SecureContext } from 'node:tls'
import type { TlsPair } from '../config/config.js'
import { ConfigError } from '../config/error.js'
import { readOptionFile } from '../config/small-file.js'

/** A full chain or a key is a few KB; this bounds what a planted file can make the process read. */
const MAX_PEM = 1024 * 1024
/** TLS 1.2 and 1.3 only; Node's default ciphers. */
export const MIN_VERSION = 'TLSv1.2' as const

interface Loaded {
  /** Exact names, lower case, and `*.` wildcards from the certificate's subjectAltName. */
  readonly names: readonly string[]
  readonly context: SecureContext
  readonly key: Buffer
  readonly cert: Buffer
}

export interface Certificates {
  /** The context for an SNI name: an exact name, then a wildcard; undefined means the first certificate. */
  contextFor (servername: string): SecureContext | undefined
  /** The first certificate: what a client without SNI, or with an unknown name, gets. */
  readonly first: { readonly key: Buffer, readonly cert: Buffer }
}

/** The key is the site's identity: one that others can read is refused, as --account-key does. */
const othersRead = (st: Stats): string | undefined => (st.mode & 0o004) !== 0 ? 'is readable by others: chmod 640 it (group of the service user) or 600' : undefined

async function load (pair: TlsPair): Promise<Loaded> {
  const key = await readOptionFile('tls-key', pair.key, MAX_PEM, othersRead)
  const cert = await readOptionFile('tls-cert', pair.cert, MAX_PEM)
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch {
    throw new ConfigError('tls-cert', `${pair.cert} does not hold a PEM certificate`)
  }
  let matches: boolean
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key))
  } catch {
    throw new ConfigError('tls-key', `${pair.key} does not hold a PEM private key`)
  }
  if (!matches) throw new ConfigError('tls-key', `${pair.key} is not the key of ${pair.cert}`)
  const names = (x509.subjectAltName ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4).toLowerCase())
  try {
    return { names, key, cert, context: createSecureContext({ key, cert, minVersion: MIN_VERSION }) }
  } catch (err) {
    throw new ConfigError('tls-cert', `${pair.cert} cannot be used: ${(err as Error).message}`)
  }
}

/** Reads every pair; any failure names its file, and the caller keeps what it had (a reload) or stops (a start). */
export async function loadCertificates (pairs: readonly TlsPair[]): Promise<Certificates | undefined> {
  if (pairs.length === 0) return undefined
  const loaded: Loaded[] = []
  for (const p of pairs) loaded.push(await load(p))
  const exact = new Map<string, SecureContext>()
  const wildcard = new Map<string, SecureContext>()
  // Earlier pairs win a name given twice, as nginx's first matching server does.
  for (const l of [...loaded].reverse()) {
    for (const n of l.names) {
      if (n.startsWith('*.')) wildcard.set(n.slice(2), l.context)
      else exact.set(n, l.context)
    }
  }
  const first = loaded[0] as Loaded
  return {
    first: { key: first.key, cert: first.cert },
    contextFor (servername) {
      const name = servername.toLowerCase().replace(/\.$/, '')
      const dot = name.indexOf('.')
      return exact.get(name) ?? (dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined)
    }
  }
}
