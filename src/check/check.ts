// The check command: places a probe, validates every address of every name like the CA, always cleans up.
import { randomBytes } from 'node:crypto'
import { unlinkSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import type { Config } from '../config/config.js'
import { UsageError } from '../config/error.js'
import { probe, type ProbeResult } from './probe.js'
import type { AddressReport, CertificateReport, CheckReport, NameReport } from './report.js'
import { addressesOf, type Overrides } from './resolve.js'
import { dnsAlternative, isPublicAddress } from './rules.js'

export interface CheckOptions {
  readonly names: readonly string[]
  readonly overrides: Overrides
  readonly token: string | undefined
  readonly expect: string | undefined
  readonly httpPort: number
  readonly timeoutMs: number
  /** The CA asks from several perspectives at once; so does check, per address. */
  readonly perspectives: number
  readonly userAgent: string
  readonly allowPrivate: boolean
  /** The certificates of a domains.txt, checked against the profile's name limit. */
  readonly certificates: readonly CertificateReport[]
}

/** Let's Encrypt's profiles (2026) and the names one order may hold. */
export const PROFILE_LIMITS = { classic: 100, tlsserver: 25, shortlived: 25 } as const
export type Profile = keyof typeof PROFILE_LIMITS

/** check runs in one place; the CA does not. Said once per report. */
const ONE_PLACE = 'check probes from this host only; the CA validates from its primary and several remote perspectives in other regions, and fails the order when more than one of them fails: a geo-block or a firewall allow-list (Let\'s Encrypt does not publish its addresses) fails there and not here'

const randomToken = (): string => randomBytes(32).toString('base64url')

interface Probe { token: string, expected: string, file: string | undefined, notes: string[] }

function placeProbe (config: Config, o: CheckOptions): Probe {
  const tp = config.thumbprints.length === 1 ? config.thumbprints[0] : undefined
  if (o.token !== undefined) {
    const expected = o.expect ?? (tp === undefined ? undefined : `${o.token}.${tp}`)
    if (expected === undefined) throw new UsageError('--token needs --expect (the key authorization the token file holds)')
    return { token: o.token, expected, file: undefined, notes: [] }
  }
  const token = randomToken()
  if (tp !== undefined) {
    return { token, expected: `${token}.${tp}`, file: undefined, notes: ['stateless: every responder in the circuit must answer with the account thumbprint'] }
  }
  const expected = `${token}.${randomToken().slice(0, 43)}`
  const file = join(config.challengeDir, token)
  try {
    writeFileSync(file, expected, { mode: 0o644, flag: 'wx' })
  } catch (err) {
    throw new UsageError(`cannot write the probe into ${config.challengeDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (run as the ACME client's user, or probe with --token/--expect)`)
  }
  const notes = config.masters.length > 0
    ? [`this host is a secondary (--master ${config.masters[0]?.url ?? ''}): the probe written to ${config.challengeDir} proves the circuit only if that is the directory the master serves; otherwise place a token on the master and use --token/--expect`]
    : []
  return { token, expected, file, notes }
}

function sameAnswer (a: ProbeResult, b: ProbeResult): boolean {
  return a.ok === b.ok && a.body === b.body && a.error === b.error &&
    JSON.stringify(a.hops.map((h) => [h.status, h.location])) === JSON.stringify(b.hops.map((h) => [h.status, h.location]))
}

async function checkAddress (undici: typeof import('undici'), name: string, address: string, p: Probe, o: CheckOptions): Promise<AddressReport> {
  const settings = { httpPort: o.httpPort, timeoutMs: o.timeoutMs, userAgent: o.userAgent, allowPrivate: o.allowPrivate, resolve: (h: string) => addressesOf(h, o.overrides) }
  const results = await Promise.all(Array.from({ length: o.perspectives }, () => probe(undici, name, address, p.token, p.expected, settings)))
  const first = results[0] as ProbeResult
  const odd = results.find((r) => !sameAnswer(r, first))
  if (odd !== undefined) {
    return { address, ok: false, result: first, disagreement: `concurrent requests got different answers (${first.error ?? 'pass'} / ${odd.error ?? 'pass'})`, fix: 'every request must get the same answer: no per-IP filtering, one-shot tokens or flapping backends' }
  }
  return { address, ok: first.ok, result: first }
}

/** Let's Debug's softer discrepancies: addresses that both pass but are evidently not the same host. */
function discrepancies (reports: readonly AddressReport[]): string[] {
  const passing = reports.filter((r) => r.ok)
  const a = passing[0]
  if (a === undefined) return []
  const looks = (r: AddressReport): Record<string, string> => ({
    'Server header': r.result.hops.map((h) => h.server ?? '-').join(' → '),
    'redirect chain': r.result.hops.map((h) => `${h.status ?? '-'}${h.location === undefined ? '' : ` ${h.location}`}`).join(' → '),
    'final host': new URL(r.result.hops.at(-1)?.url ?? 'http://-').host
  })
  const first = looks(a)
  const out: string[] = []
  for (const b of passing.slice(1)) {
    const other = looks(b)
    for (const [what, value] of Object.entries(first)) {
      if (other[what] !== value) out.push(`${a.address} and ${b.address} both pass but differ in ${what} ("${value}" / "${other[what] ?? ''}"): is each of them the host you think it is?`)
    }
  }
  return out
}

async function checkName (undici: typeof import('undici'), name: string, p: Probe, o: CheckOptions): Promise<NameReport> {
  if (name.startsWith('*.')) return { name, ok: false, addresses: [], warnings: [], error: 'wildcard name', fix: 'wildcard certificates need DNS-01; HTTP-01 cannot validate them' }
  const warnings = isIP(name) === 0 ? [] : [`${name} is an IP address identifier (RFC 8738): the CA connects to it and sends it as Host; Let's Encrypt issues for IP addresses only in the shortlived profile`]
  const addresses = await addressesOf(name, o.overrides)
  if (addresses.length === 0) return { name, ok: false, addresses: [], warnings, error: 'no A or AAAA record', fix: `give ${name} an address in DNS (or test with --resolve ${name}:<address>)` }
  const reports = await Promise.all(addresses.map(async (a) => {
    const r = await checkAddress(undici, name, a, p, o)
    return isPublicAddress(a) ? r : { ...r, private: true }
  }))
  const v4ok = reports.some((r) => r.ok && isIP(r.address) === 4)
  const withHints = reports.map((r) => !r.ok && isIP(r.address) === 6 && v4ok && r.result.hops.length === 1 && r.result.hops[0]?.status === undefined
    ? { ...r, fix: `${name} has an AAAA record and the CA tries IPv6 first: listen on [::]:${o.httpPort} there, or remove the AAAA record` }
    : r)
  warnings.push(...discrepancies(withHints))
  const report = { name, addresses: withHints, warnings }
  if (!o.allowPrivate && withHints.every((r) => r.private === true)) {
    return { ...report, ok: false, error: `only private addresses (${addresses.join(', ')}): the CA cannot connect to any of them`, fix: `give ${name} a public A or AAAA record, ${dnsAlternative(name)} (a lab: --allow-private)` }
  }
  const nothingAnswers = withHints.every((r) => !r.ok && r.result.hops.length === 1 && r.result.hops[0]?.status === undefined)
  if (nothingAnswers) return { ...report, ok: false, error: `nothing answers on port ${o.httpPort} at any address`, fix: `start acme-responder there and open port ${o.httpPort} to the internet, ${dnsAlternative(name)}` }
  return { ...report, ok: withHints.every((r) => r.ok) }
}

export async function runCheck (config: Config, o: CheckOptions): Promise<CheckReport> {
  const undici = await import('undici')
  const p = placeProbe(config, o)
  const remove = (): void => {
    if (p.file === undefined) return
    try { unlinkSync(p.file) } catch {}
  }
  // Whatever happens, the probe goes: on return, on error, and on Ctrl-C or kill.
  const onSignal = (signal: NodeJS.Signals): void => {
    remove()
    process.kill(process.pid, signal)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('exit', remove)
  try {
    const names = await Promise.all(o.names.map((n) => checkName(undici, n, p, o)))
    const ok = names.every((n) => n.ok) && o.certificates.every((c) => c.ok)
    return { ok, token: p.token, expected: p.expected, notes: [...p.notes, ONE_PLACE], names, certificates: o.certificates }
  } finally {
    remove()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', remove)
  }
}
