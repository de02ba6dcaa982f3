// The real ACME clients of the end-to-end test, dehydrated and lego, and the openssl checks of their output.
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Ca } from './ca.js'

export interface Issued { readonly ok: boolean, readonly output: string, readonly cert: string, readonly chain: string, readonly accountKey: string }

function run (cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number, output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: stdout + stderr })
    })
  })
}

/** Writes dehydrated's config (WELLKNOWN is the master's challenge dir) and registers its account. */
export async function dehydratedRegister (ca: Ca, dir: string, wellknown: string, hook?: string): Promise<{ ok: boolean, output: string, accountKey: string }> {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'config'), [
    `CA="${ca.directory}"`, 'CHALLENGETYPE="http-01"', `WELLKNOWN="${wellknown}"`, `BASEDIR="${dir}"`,
    `DOMAINS_TXT="${join(dir, 'domains.txt')}"`, 'KEY_ALGO=prime256v1', ...hook === undefined ? [] : [`HOOK="${hook}"`], ''
  ].join('\n'))
  const reg = await run('dehydrated', ['-f', join(dir, 'config'), '--register', '--accept-terms'], { CURL_CA_BUNDLE: ca.tlsRoot })
  const accounts = join(dir, 'accounts')
  const account = reg.code === 0 ? readdirSync(accounts)[0] ?? '' : ''
  return { ok: reg.code === 0, output: reg.output, accountKey: join(accounts, account, 'account_key.pem') }
}

/** One order for all names; curl (which dehydrated uses) trusts the CA's API through CURL_CA_BUNDLE. */
export async function dehydrated (ca: Ca, dir: string, names: readonly string[], wellknown: string, hook?: string): Promise<Issued> {
  const reg = await dehydratedRegister(ca, dir, wellknown, hook)
  if (!reg.ok) return { ok: false, output: reg.output, cert: '', chain: '', accountKey: '' }
  writeFileSync(join(dir, 'domains.txt'), `${names.join(' ')}\n`)
  const res = await run('dehydrated', ['-f', join(dir, 'config'), '-c'], { CURL_CA_BUNDLE: ca.tlsRoot })
  const certDir = join(dir, 'certs', names[0] ?? '')
  return { ok: res.code === 0, output: res.output, cert: join(certDir, 'cert.pem'), chain: join(certDir, 'chain.pem'), accountKey: reg.accountKey }
}

/** lego writes <webroot>/.well-known/acme-challenge/<token>. */
export async function lego (ca: Ca, dir: string, names: readonly string[], webroot: string): Promise<Issued> {
  const res = await run('lego', ['--server', ca.directory, '--email', 'e2e@example.test', '--accept-tos', '--http', '--http.webroot', webroot,
    ...names.flatMap((n) => ['--domains', n]), '--path', dir, 'run'], { LEGO_CA_CERTIFICATES: ca.tlsRoot })
  const base = join(dir, 'certificates', names[0] ?? '')
  return { ok: res.code === 0, output: res.output, cert: `${base}.crt`, chain: `${base}.issuer.crt`, accountKey: '' }
}

export async function opensslSans (cert: string): Promise<string[]> {
  const r = await run('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName'], {})
  return [...r.output.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1] ?? '').sort()
}

export async function opensslVerify (cert: string, chain: string, rootPem: string, dir: string): Promise<string> {
  const root = join(dir, 'issuing-root.pem')
  writeFileSync(root, rootPem)
  const r = await run('openssl', ['verify', '-CAfile', root, '-untrusted', chain, cert], {})
  return r.output.trim()
}
