// The option table: each option's kind, default, bounds, help, and whether a reload can change it.
// Flags, ACME_RESPONDER_* variables, config file keys, --help, the validator and the reload all read it.
import type { Config } from './config.js'

export type OptionKind = 'string' | 'list' | 'integer'

export interface OptionSpec {
  readonly kind: OptionKind
  readonly describe: string
  /** The default the validator applies (integers); for the others, the text --help shows. */
  readonly default?: number | string
  readonly min?: number
  readonly max?: number
  /** False: only a restart applies a change (sockets, identity, log destination, parser limits). */
  readonly reload: boolean
  /** Also read by `check` (which shows only these in its --help). */
  readonly check?: true
  readonly limit?: true
  /** Only meaningful on the command line (not from env or file). */
  readonly cliOnly?: true
}

/** The longest the proxy may wait: the CA's whole validation has about 20 s, and a drain waits this long. */
export const MAX_PROXY_MS = 20_000

export const OPTIONS = {
  config: { kind: 'string', describe: 'JSON config file (keys are the option names)', reload: false, check: true, cliOnly: true },
  listen: { kind: 'list', describe: 'Address to listen on: ip:port, [ipv6]:port or :port (repeatable)', default: '0.0.0.0:80 and [::]:80', reload: false },
  'listen-tls': { kind: 'list', describe: 'HTTPS address to listen on, as --listen (repeatable)', default: '0.0.0.0:443 and [::]:443 when a certificate is given', reload: false },
  'tls-cert': { kind: 'list', describe: 'Certificate file (PEM, full chain) for HTTPS, paired in order with --tls-key (repeatable; reread on SIGHUP)', reload: true },
  'tls-key': { kind: 'list', describe: 'Private key file of the --tls-cert in the same place (repeatable; reread on SIGHUP)', reload: true },
  'challenge-dir': { kind: 'string', describe: 'Directory the ACME client writes token files to', default: 'dehydrated\'s packaged default', reload: true, check: true },
  master: { kind: 'list', describe: 'Master host name or base URL (repeatable: proxy mode tries them in order)', default: 'none: this host is the master', reload: true, check: true },
  alias: { kind: 'list', describe: 'Other Host names that are this host (repeatable)', reload: true },
  mode: { kind: 'string', describe: 'What a secondary does for a token it lacks: redirect or proxy', default: 'redirect', reload: true },
  'account-thumbprint': { kind: 'list', describe: 'ACME account JWK thumbprint for stateless answers (repeatable)', reload: true, check: true },
  'account-key': { kind: 'string', describe: 'ACME account key file (PEM or JWK) to compute the thumbprint from (read once, at start)', reload: true, check: true },
  'redirect-status': { kind: 'integer', describe: 'Redirect status: 301, 302, 307 or 308', default: 302, reload: true },
  'content-type': { kind: 'string', describe: 'Content-Type of served tokens', default: 'application/jose+json', reload: true },
  'maintenance-page': { kind: 'string', describe: 'HTML file shown for every other path', default: 'built-in page', reload: true },
  'maintenance-status': { kind: 'integer', describe: 'Status of the maintenance page (not 204, 205 or 304)', default: 503, min: 200, max: 599, reload: true },
  'retry-after': { kind: 'integer', describe: 'Retry-After seconds sent with the maintenance page', default: 3600, min: 0, max: 31_536_000, reload: true },
  'log-level': { kind: 'string', describe: 'fatal, error, warn, info, debug, trace or silent', default: 'info', reload: true },
  'log-file': { kind: 'string', describe: 'Log file, reopened on SIGHUP', default: 'stdout', reload: false },
  'metrics-listen': { kind: 'string', describe: 'Serve Prometheus metrics at GET /metrics on this ip:port or [ipv6]:port (a loopback address)', default: 'none', reload: false },
  user: { kind: 'string', describe: 'User to switch to after binding', reload: false },
  group: { kind: 'string', describe: 'Group to switch to after binding', default: 'the user\'s group', reload: false },
  'max-token-size': { kind: 'integer', describe: 'Largest token file served, in bytes', default: 4096, min: 1, max: 1_048_576, reload: true, limit: true },
  'max-connections': { kind: 'integer', describe: 'Connections held at once, all listeners together; when full, the longest-unused one not serving a request is closed for a newcomer', default: 10_000, min: 1, max: 1_000_000, reload: true, limit: true },
  'max-connections-per-client': { kind: 'integer', describe: 'Connections one client (IPv4 address, IPv6 /64) holds at once; past it, its own longest-unused one is closed', default: 256, min: 1, max: 1_000_000, reload: true, limit: true },
  'max-header-size': { kind: 'integer', describe: 'Largest request header block, in bytes', default: 8192, min: 1024, max: 65_536, reload: false, limit: true },
  'headers-timeout': { kind: 'integer', describe: 'Milliseconds a client has to send its request headers', default: 10_000, min: 100, max: 600_000, reload: true, limit: true },
  'request-timeout': { kind: 'integer', describe: 'Milliseconds a client has to send its whole request', default: 15_000, min: 100, max: 600_000, reload: true, limit: true },
  'keep-alive-timeout': { kind: 'integer', describe: 'Milliseconds an idle keep-alive connection is kept', default: 5000, min: 0, max: 600_000, reload: true, limit: true },
  'proxy-timeout': { kind: 'integer', describe: 'Proxy mode: milliseconds allowed per master', default: 2000, min: 100, max: MAX_PROXY_MS, reload: true, limit: true },
  'proxy-budget': { kind: 'integer', describe: 'Proxy mode: milliseconds allowed for all masters together', default: 5000, min: 100, max: MAX_PROXY_MS, reload: true, limit: true }
} as const satisfies Record<string, OptionSpec>

export type OptionName = keyof typeof OPTIONS

/** Raw, unvalidated values as they come from one source. */
export type RawOptions = Partial<Record<OptionName, string | readonly string[] | number | boolean>>

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[]

export const spec = (name: OptionName): OptionSpec => OPTIONS[name]

export function envName (name: OptionName): string {
  return 'ACME_RESPONDER_' + name.toUpperCase().replaceAll('-', '_')
}

/** The Config key of an option: log-file → logFile. */
export const configKey = (name: OptionName): string => name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())

/** Config keys that only a restart changes: a reload that changes one says so. */
export const RESTART_ONLY = OPTION_NAMES.filter((n) => !spec(n).reload && n !== 'config').map(configKey) as Array<keyof Config>

/** Config files may spell keys as the flags do (challenge-dir) or in camelCase (challengeDir). */
export function optionFromKey (key: string): OptionName | undefined {
  const kebab = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
  return (OPTION_NAMES as string[]).includes(kebab) ? kebab as OptionName : undefined
}
