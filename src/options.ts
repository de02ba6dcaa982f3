// The option table: one source for the CLI flags, ACME_RESPONDER_* variables and config file keys.

export type OptionKind = 'string' | 'list' | 'integer' | 'boolean'

export interface OptionSpec {
  readonly kind: OptionKind
  readonly describe: string
  /** Shown in --help; the real default is applied by the config validator. */
  readonly defaultText?: string
  /** Only meaningful on the command line (not from env or file). */
  readonly cliOnly?: boolean
}

export const OPTIONS = {
  config: { kind: 'string', describe: 'JSON config file (keys are the option names)', cliOnly: true },
  listen: { kind: 'list', describe: 'Address to listen on: ip:port, [ipv6]:port or :port (repeatable)', defaultText: '0.0.0.0:80 and [::]:80' },
  'challenge-dir': { kind: 'string', describe: 'Directory the ACME client writes token files to', defaultText: 'dehydrated\'s packaged default' },
  master: { kind: 'list', describe: 'Master host name or base URL (repeatable: proxy mode tries them in order)', defaultText: 'none: this host is the master' },
  alias: { kind: 'list', describe: 'Other Host names that are this host (repeatable)' },
  mode: { kind: 'string', describe: 'What a secondary does for a token it lacks: redirect or proxy', defaultText: 'redirect' },
  'account-thumbprint': { kind: 'list', describe: 'ACME account JWK thumbprint for stateless answers (repeatable)' },
  'account-key': { kind: 'string', describe: 'ACME account key file (PEM or JWK) to compute the thumbprint from' },
  'redirect-status': { kind: 'integer', describe: 'Redirect status: 301, 302, 307 or 308', defaultText: '302' },
  'content-type': { kind: 'string', describe: 'Content-Type of served tokens', defaultText: 'application/jose+json' },
  'maintenance-page': { kind: 'string', describe: 'HTML file shown for every other path', defaultText: 'built-in page' },
  'maintenance-status': { kind: 'integer', describe: 'Status of the maintenance page', defaultText: '503' },
  'retry-after': { kind: 'integer', describe: 'Retry-After seconds sent with the maintenance page', defaultText: '3600' },
  'log-level': { kind: 'string', describe: 'fatal, error, warn, info, debug, trace or silent', defaultText: 'info' },
  'log-file': { kind: 'string', describe: 'Log file, reopened on SIGHUP', defaultText: 'stdout' },
  user: { kind: 'string', describe: 'User to switch to after binding' },
  group: { kind: 'string', describe: 'Group to switch to after binding', defaultText: 'the user\'s group' },
  'max-token-size': { kind: 'integer', describe: 'Largest token file served, in bytes', defaultText: '4096' },
  'max-connections': { kind: 'integer', describe: 'Connection cap, per listener', defaultText: '10000' },
  'max-header-size': { kind: 'integer', describe: 'Largest request header block, in bytes', defaultText: '8192' },
  'headers-timeout': { kind: 'integer', describe: 'Milliseconds a client has to send its request headers', defaultText: '10000' },
  'request-timeout': { kind: 'integer', describe: 'Milliseconds a client has to send its whole request', defaultText: '15000' },
  'keep-alive-timeout': { kind: 'integer', describe: 'Milliseconds an idle keep-alive connection is kept', defaultText: '5000' },
  'proxy-timeout': { kind: 'integer', describe: 'Proxy mode: milliseconds allowed per master', defaultText: '2000' },
  'proxy-budget': { kind: 'integer', describe: 'Proxy mode: milliseconds allowed for all masters together', defaultText: '5000' }
} as const satisfies Record<string, OptionSpec>

export type OptionName = keyof typeof OPTIONS

/** Raw, unvalidated values as they come from one source. */
export type RawOptions = Partial<Record<OptionName, string | readonly string[] | number | boolean>>

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[]

export function envName (name: OptionName): string {
  return 'ACME_RESPONDER_' + name.toUpperCase().replaceAll('-', '_')
}

/** Config files may spell keys as the flags do (challenge-dir) or in camelCase (challengeDir). */
export function optionFromKey (key: string): OptionName | undefined {
  const kebab = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
  return (OPTION_NAMES as string[]).includes(kebab) ? kebab as OptionName : undefined
}
