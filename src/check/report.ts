// Renders check results for people (hops, verdicts, fixes; colour only on a terminal) and as JSON.
import type { ProbeResult } from './probe.js'

export interface AddressReport {
  readonly address: string
  readonly ok: boolean
  readonly result: ProbeResult
  /** Set when the concurrent requests for this address did not all get the same answer. */
  readonly disagreement?: string
  readonly fix?: string
  /** A private, loopback or reserved address: the CA cannot connect to it. */
  readonly private?: boolean
}

export interface NameReport {
  readonly name: string
  readonly ok: boolean
  readonly addresses: readonly AddressReport[]
  readonly error?: string
  readonly fix?: string
  /** What passes here but deserves a look (softer discrepancies, IP identifiers). */
  readonly warnings: readonly string[]
}

/** One certificate (a line of domains.txt) against its profile's name limit. */
export interface CertificateReport {
  readonly names: readonly string[]
  readonly profile: string
  readonly limit: number
  readonly ok: boolean
}

export interface CheckReport {
  readonly ok: boolean
  readonly token: string
  readonly expected: string
  readonly notes: readonly string[]
  readonly names: readonly NameReport[]
  readonly certificates: readonly CertificateReport[]
}

export function toJson (r: CheckReport): string {
  return JSON.stringify(r, null, 2) + '\n'
}

export function toText (r: CheckReport, colour: boolean): string {
  const paint = (code: string, s: string): string => colour ? `\x1b[${code}m${s}\x1b[0m` : s
  const verdict = (ok: boolean): string => ok ? paint('32;1', 'PASS') : paint('31;1', 'FAIL')
  const out: string[] = []
  for (const note of r.notes) out.push(paint('33', `note: ${note}`))
  out.push(`probe token ${r.token}`, '')
  for (const c of r.certificates.filter((x) => !x.ok)) {
    out.push(`${verdict(false)} certificate ${c.names[0] ?? ''}: ${c.names.length} names, over the ${c.limit} the ${c.profile} profile takes`, `  fix: split the line in domains.txt into certificates of at most ${c.limit} names`, '')
  }
  for (const n of r.names) {
    out.push(`${verdict(n.ok)} ${paint('1', n.name)}`)
    if (n.error !== undefined) out.push(`  ${n.error}`)
    if (n.fix !== undefined) out.push(`  fix: ${n.fix}`)
    for (const w of n.warnings) out.push(`  ${paint('33', `warning: ${w}`)}`)
    for (const a of n.addresses) {
      const why = a.disagreement ?? a.result.error
      out.push(`  ${verdict(a.ok)} ${a.address}${a.private === true ? ' (private: the CA cannot connect here)' : ''}${why === undefined ? '' : `: ${why}`}`)
      for (const [i, h] of a.result.hops.entries()) {
        const status = h.status === undefined ? 'no answer' : String(h.status)
        out.push(`    ${i + 1}. GET ${h.url} via ${h.address} → ${status}${h.location === undefined ? '' : ` Location: ${h.location}`} (${h.ms} ms)`)
      }
      const fix = a.fix ?? a.result.fix
      if (!a.ok && fix !== undefined) out.push(`    ${paint('33', `fix: ${fix}`)}`)
    }
    out.push('')
  }
  const failed = r.names.filter((n) => !n.ok).length
  const over = r.certificates.filter((c) => !c.ok).length
  out.push(failed === 0 ? paint('32;1', `all ${r.names.length} names pass`) : paint('31;1', `${failed} of ${r.names.length} names fail`))
  if (over > 0) out.push(paint('31;1', `${over} certificate(s) over the profile's name limit`))
  return out.join('\n') + '\n'
}
