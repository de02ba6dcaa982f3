// The check command: places a probe, validates every address of every name like the CA, always cleans up.
import { randomBytes } from 'node:crypto'
import { unlinkSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import type { Config } from '../config/config.js'
import { probe, type ProbeResult } from './probe.js'
import type { AddressReport, CheckReport, NameReport } from './report.js'
import { addressesOf, type Overrides } from './resolve.js'

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
}

export class CheckUsageError extends Error {
  readonly exitCode = 2
}

const randomToken = (): string => randomBytes(32).toString('base64url')

interface Probe { token: string, expected: string, file: string | undefined, notes: string[] }

function placeProbe (config: Config, o: CheckOptions): Probe {
  const tp = config.thumbprints.length === 1 ? config.thumbprints[0] : undefined
  if (o.token !== undefined) {
    const expected = o.expect ?? (tp === undefined ? undefined : `${o.token}.${tp}`)
    if (expected === undefined) throw new CheckUsageError('--token needs --expect (the key authorization the token file holds)')
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
    throw new CheckUsageError(`cannot write the probe into ${config.challengeDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (run as the ACME client's user, or probe with --token/--expect)`)
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

async function checkName (undici: typeof import('undici'), name: string, p: Probe, o: CheckOptions): Promise<NameReport> {
  if (name.startsWith('*.')) return { name, ok: false, addresses: [], error: 'wildcard name', fix: 'wildcard certificates need DNS-01; HTTP-01 cannot validate them' }
  const addresses = await addressesOf(name, o.overrides)
  if (addresses.length === 0) return { name, ok: false, addresses: [], error: 'no A or AAAA record', fix: `give ${name} an address in DNS (or test with --resolve ${name}:<address>)` }
  const reports = await Promise.all(addresses.map((a) => checkAddress(undici, name, a, p, o)))
  const v4ok = reports.some((r) => r.ok && isIP(r.address) === 4)
  const withHints = reports.map((r) => !r.ok && isIP(r.address) === 6 && v4ok && r.result.hops.length === 1 && r.result.hops[0]?.status === undefined
    ? { ...r, fix: `${name} has an AAAA record and the CA tries IPv6 first: listen on [::]:${o.httpPort} there, or remove the AAAA record` }
    : r)
  return { name, ok: withHints.every((r) => r.ok), addresses: withHints }
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
    return { ok: names.every((n) => n.ok), token: p.token, expected: p.expected, notes: p.notes, names }
  } finally {
    remove()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', remove)
  }
}
