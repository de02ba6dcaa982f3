// The check command's shell: reads its arguments and names, runs the check, prints, returns the exit code.
import { readFile } from 'node:fs/promises'
import { UsageError } from '../config/error.js'
import { PROFILE_LIMITS, runCheck, type Profile } from './check.js'
import { dehydratedProfiles, parseCertificates } from './domains-txt.js'
import { toJson, toText, type CertificateReport } from './report.js'
import { parseResolve } from './resolve.js'
import { wholeNumber } from '../config/config.js'
import { loadConfig, type Sources } from '../config/load.js'
import { CHECK_NUMBERS, type CheckArgs } from './flags.js'
import { isToken } from '../core/target.js'
import { VERSION } from '../version.js'

function number (args: CheckArgs, name: keyof typeof CHECK_NUMBERS): number {
  const { default: dflt, min, max } = CHECK_NUMBERS[name]
  const v = args[name]
  return v === undefined ? dflt : wholeNumber(name, v, min, max)
}

export async function check (src: Sources, args: CheckArgs, out: NodeJS.WriteStream): Promise<number> {
  const config = await loadConfig(src)
  const names = [...args.names ?? []]
  let certificates: CertificateReport[] = []
  if (args['domains-txt'] !== undefined) {
    const text = await readFile(args['domains-txt'], 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --domains-txt ${args['domains-txt'] ?? ''}: ${err.code ?? err.message}`)
    })
    const certs = parseCertificates(text)
    // dehydrated's own setting for a certificate wins; then --profile; then its main config; then classic.
    const found = await dehydratedProfiles(args['domains-txt'], certs)
    certificates = certs.map((c) => {
      const profile = found.perCert.get(c.name) ?? args.profile ?? found.main ?? 'classic'
      const limit = PROFILE_LIMITS[profile as Profile] as number | undefined
      return { names: c.names, profile, limit: limit ?? 0, ok: limit === undefined || c.names.length <= limit }
    })
    names.push(...new Set(certs.flatMap((c) => c.names).filter((n) => !names.includes(n))))
  }
  if (names.length === 0) throw new UsageError('name at least one domain to check, or --domains-txt')
  let overrides
  try {
    overrides = parseResolve(args.resolve ?? [])
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (args.token !== undefined && !isToken(args.token)) throw new UsageError(`invalid --token "${args.token}": must be base64url`)
  const report = await runCheck(config, {
    names,
    overrides,
    token: args.token,
    expect: args.expect,
    httpPort: number(args, 'port'),
    timeoutMs: number(args, 'timeout'),
    perspectives: 5,
    allowPrivate: args['allow-private'] === true,
    certificates,
    userAgent: `acme-responder-check/${VERSION}`
  })
  out.write(args.json === true ? toJson(report) : toText(report, out.isTTY === true && src.env.NO_COLOR === undefined))
  return report.ok ? 0 : 1
}
