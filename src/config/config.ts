// The validated, frozen Config and the pure function that builds it from raw option values.
import { isIP } from 'node:net'
import { spec, type OptionName, type RawOptions } from './options.js'
import { ConfigError } from './error.js'
import { normalizeHostName } from '../core/host.js'
import { parseListen, type Listener } from './listen.js'
import { parseMaster, type Master } from './master.js'

export { ConfigError } from './error.js'
export type { Master } from './master.js'

export type Mode = 'redirect' | 'proxy'
export type RedirectStatus = 301 | 302 | 307 | 308

/** A certificate (full chain) and its key, as files: read (and reread on SIGHUP) by the TLS shell. */
export interface TlsPair { readonly cert: string, readonly key: string }

export interface Config {
  readonly listen: readonly Listener[]
  /** HTTPS listeners: none without a certificate. */
  readonly listenTls: readonly Listener[]
  readonly tls: readonly TlsPair[]
  readonly challengeDir: string
  readonly masters: readonly Master[]
  readonly aliases: readonly string[]
  readonly mode: Mode
  readonly thumbprints: readonly string[]
  readonly accountKey: string | undefined
  /** The thumbprint computed from accountKey when it was read (reloads reuse it: the key is often root-only). */
  readonly keyThumbprint: string | undefined
  readonly redirectStatus: RedirectStatus
  readonly contentType: string
  readonly maintenancePage: string | undefined
  readonly maintenanceStatus: number
  readonly retryAfter: number
  readonly logLevel: string
  readonly logFile: string | undefined
  readonly user: string | undefined
  readonly group: string | undefined
  /** Where GET /metrics is served; none by default. */
  readonly metricsListen: Listener | undefined
  readonly configFile: string | undefined
  readonly maxTokenSize: number
  readonly maxConnections: number
  readonly maxConnectionsPerClient: number
  readonly maxHeaderSize: number
  readonly headersTimeout: number
  readonly requestTimeout: number
  readonly keepAliveTimeout: number
  readonly proxyTimeout: number
  readonly proxyBudget: number
}

export const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const HEADER_VALUE = /^[\x20-\x7e]+$/

export function defaultChallengeDir (platform: string): string {
  return platform === 'freebsd' ? '/usr/local/www/dehydrated' : '/var/lib/dehydrated/acme-challenges'
}

/** A list option; given but empty ('', ' ', ',', []) is an error, never a silent fall back to the default. */
function list (raw: RawOptions, name: OptionName): string[] {
  const v = raw[name]
  if (v === undefined) return []
  // A list is given item by item (flags, file) or as one string separated by commas or spaces (env, file).
  const values = Array.isArray(v) ? v.map(String) : [String(v)]
  const out = Array.isArray(v) ? values.map((s) => s.trim()) : values.flatMap((s) => s.split(/[\s,]+/))
  if (out.every((s) => s === '')) throw new ConfigError(name, 'must not be empty')
  if (out.some((s) => s === '') && Array.isArray(v)) throw new ConfigError(name, 'has an empty item')
  return out.filter((s) => s !== '')
}

function str (raw: RawOptions, name: OptionName): string | undefined {
  const v = raw[name]
  if (v === undefined) return undefined
  if (Array.isArray(v)) throw new ConfigError(name, 'given more than once')
  const s = String(v)
  if (s.trim() === '') throw new ConfigError(name, 'must not be empty')
  return s
}

/** A whole number within the table's bounds; the table's default when not given. */
function int (raw: RawOptions, name: OptionName): number {
  const { default: dflt, min = 0, max = Number.MAX_SAFE_INTEGER } = spec(name)
  const s = str(raw, name)
  if (s === undefined) return Number(dflt)
  return wholeNumber(name, s, min, max)
}

/** Parses a whole number and checks its range; also used for the check command's own numbers. */
export function wholeNumber (name: string, s: string, min: number, max: number): number {
  if (!/^\d+$/.test(s)) throw new ConfigError(name, `"${s}" is not a whole number`)
  const n = Number(s)
  if (n < min || n > max) throw new ConfigError(name, `${n} is out of range (${min} to ${max})`)
  return n
}

function oneOf<T extends string | number> (raw: RawOptions, name: OptionName, allowed: readonly T[], dflt: T): T {
  const s = str(raw, name)
  if (s === undefined) return dflt
  const hit = allowed.find((a) => String(a) === s)
  if (hit === undefined) throw new ConfigError(name, `"${s}" must be one of ${allowed.join(', ')}`)
  return hit
}

/** Statuses that must not carry a body (RFC 9110 §6.4.1): a maintenance page cannot use them. */
const BODYLESS = new Set([204, 205, 304])

/** Builds the Config from merged raw values; the thumbprint computed from --account-key is passed in. */
export function buildConfig (raw: RawOptions, platform: string, keyThumbprint?: string): Config {
  const listen = list(raw, 'listen')
  const certs = list(raw, 'tls-cert')
  const keys = list(raw, 'tls-key')
  if (certs.length !== keys.length) throw new ConfigError(certs.length > keys.length ? 'tls-key' : 'tls-cert', `${keys.length} key(s) for ${certs.length} certificate(s): give them in pairs, in the same order`)
  const listenTls = list(raw, 'listen-tls')
  if (listenTls.length > 0 && certs.length === 0) throw new ConfigError('listen-tls', 'needs a certificate: --tls-cert and --tls-key')
  const aliases = list(raw, 'alias').map((a) => {
    const h = normalizeHostName(a)
    if (h === undefined || isIP(a) === 6) throw new ConfigError('alias', `"${a}" is not a host name`)
    return h
  })
  const thumbprints = list(raw, 'account-thumbprint')
  for (const t of thumbprints) {
    if (!THUMBPRINT.test(t)) throw new ConfigError('account-thumbprint', `"${t}" must be 43 base64url characters`)
  }
  const masters = list(raw, 'master').map(parseMaster)
  const mode = oneOf(raw, 'mode', ['redirect', 'proxy'] as const, spec('mode').default as Mode)
  if (mode === 'proxy' && masters.length === 0) throw new ConfigError('mode', 'proxy mode needs at least one --master')
  const contentType = str(raw, 'content-type') ?? String(spec('content-type').default)
  if (!HEADER_VALUE.test(contentType)) throw new ConfigError('content-type', 'must be printable ASCII')
  const proxyTimeout = int(raw, 'proxy-timeout')
  const proxyBudget = int(raw, 'proxy-budget')
  if (proxyBudget < proxyTimeout) throw new ConfigError('proxy-budget', `${proxyBudget} is less than --proxy-timeout ${proxyTimeout}`)
  const headersTimeout = int(raw, 'headers-timeout')
  const requestTimeout = int(raw, 'request-timeout')
  const maintenanceStatus = int(raw, 'maintenance-status')
  if (BODYLESS.has(maintenanceStatus)) throw new ConfigError('maintenance-status', `${maintenanceStatus} cannot carry the page (RFC 9110 forbids a body)`)
  if (requestTimeout < headersTimeout) throw new ConfigError('request-timeout', `${requestTimeout} is less than --headers-timeout ${headersTimeout}`)
  const metrics = str(raw, 'metrics-listen')
  const metricsListen = metrics === undefined ? [] : parseListen(metrics, 'metrics-listen')
  if (metricsListen.length > 1) throw new ConfigError('metrics-listen', `"${metrics ?? ''}" must be one address, ip:port or [ipv6]:port`)

  return Object.freeze({
    listen: Object.freeze((listen.length > 0 ? listen : [':80']).flatMap((l) => parseListen(l))),
    listenTls: Object.freeze(certs.length === 0 ? [] : (listenTls.length > 0 ? listenTls : [':443']).flatMap((l) => parseListen(l, 'listen-tls'))),
    tls: Object.freeze(certs.map((cert, i) => Object.freeze({ cert, key: keys[i] ?? '' }))),
    challengeDir: str(raw, 'challenge-dir') ?? defaultChallengeDir(platform),
    masters: Object.freeze(masters),
    aliases: Object.freeze(aliases),
    mode,
    thumbprints: Object.freeze([...new Set([...thumbprints, ...keyThumbprint === undefined ? [] : [keyThumbprint]])]),
    accountKey: str(raw, 'account-key'),
    keyThumbprint,
    redirectStatus: oneOf(raw, 'redirect-status', [301, 302, 307, 308] as const, spec('redirect-status').default as RedirectStatus),
    contentType,
    maintenancePage: str(raw, 'maintenance-page'),
    maintenanceStatus,
    retryAfter: int(raw, 'retry-after'),
    logLevel: oneOf(raw, 'log-level', LOG_LEVELS, String(spec('log-level').default)),
    logFile: str(raw, 'log-file'),
    user: str(raw, 'user'),
    group: str(raw, 'group'),
    metricsListen: metricsListen[0],
    configFile: str(raw, 'config'),
    maxTokenSize: int(raw, 'max-token-size'),
    maxConnections: int(raw, 'max-connections'),
    maxConnectionsPerClient: int(raw, 'max-connections-per-client'),
    maxHeaderSize: int(raw, 'max-header-size'),
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: int(raw, 'keep-alive-timeout'),
    proxyTimeout,
    proxyBudget
  })
}
