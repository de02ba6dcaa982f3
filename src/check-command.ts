// The check command's shell: reads its arguments and names, runs the check, prints, returns the exit code.
import { readFile } from 'node:fs/promises'
import { runCheck, CheckUsageError } from './check/check.js'
import { parseDomainsTxt } from './check/domains-txt.js'
import { toJson, toText } from './check/report.js'
import { parseResolve } from './check/resolve.js'
import { loadConfig, type Sources } from './config-load.js'
import { isToken } from './target.js'
import { VERSION } from './version.js'

export interface CheckArgs {
  readonly names?: string[] | undefined
  readonly 'domains-txt'?: string | undefined
  readonly resolve?: string[] | undefined
  readonly token?: string | undefined
  readonly expect?: string | undefined
  readonly json?: boolean | undefined
  readonly 'allow-private'?: boolean | undefined
  readonly port?: string | undefined
  readonly timeout?: string | undefined
}

function whole (value: string | undefined, name: string, dflt: number, max: number): number {
  if (value === undefined) return dflt
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new CheckUsageError(`invalid --${name} "${value}"`)
  return n
}

export async function check (src: Sources, args: CheckArgs, out: NodeJS.WriteStream): Promise<number> {
  const config = await loadConfig(src)
  const names = [...args.names ?? []]
  if (args['domains-txt'] !== undefined) {
    const text = await readFile(args['domains-txt'], 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new CheckUsageError(`cannot read --domains-txt ${args['domains-txt'] ?? ''}: ${err.code ?? err.message}`)
    })
    names.push(...parseDomainsTxt(text).filter((n) => !names.includes(n)))
  }
  if (names.length === 0) throw new CheckUsageError('name at least one domain to check, or --domains-txt')
  let overrides
  try {
    overrides = parseResolve(args.resolve ?? [])
  } catch (err) {
    throw new CheckUsageError((err as Error).message)
  }
  if (args.token !== undefined && !isToken(args.token)) throw new CheckUsageError(`invalid --token "${args.token}": must be base64url`)
  const report = await runCheck(config, {
    names,
    overrides,
    token: args.token,
    expect: args.expect,
    httpPort: whole(args.port, 'port', 80, 65_535),
    timeoutMs: whole(args.timeout, 'timeout', 10_000, 120_000),
    perspectives: 5,
    allowPrivate: args['allow-private'] === true,
    userAgent: `acme-responder-check/${VERSION}`
  })
  out.write(args.json === true ? toJson(report) : toText(report, out.isTTY === true && src.env.NO_COLOR === undefined))
  return report.ok ? 0 : 1
}
