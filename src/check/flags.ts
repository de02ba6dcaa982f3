// The check command's own flags, beyond the option table: help, defaults and bounds in one place.

export const CHECK_FLAGS = {
  'domains-txt': { type: 'string', describe: 'Check every name of a dehydrated domains.txt' },
  resolve: { type: 'string', array: true, describe: 'name:address to use instead of DNS (repeatable, like curl)' },
  token: { type: 'string', describe: 'Probe this token (placed elsewhere, e.g. on the master)' },
  expect: { type: 'string', describe: 'The key authorization --token must answer with' },
  'allow-private': { type: 'boolean', describe: 'Lab setups: accept redirect targets on private or loopback addresses (the CA refuses them)' },
  json: { type: 'boolean', describe: 'Print one JSON document' },
  profile: { type: 'string', choices: ['classic', 'tlsserver', 'shortlived'], describe: 'Let\'s Encrypt profile the order uses: its name limit applies to each line of --domains-txt [default: classic]' },
  port: { type: 'string', describe: 'HTTP port of the first request and of redirects [default: 80]' },
  timeout: { type: 'string', describe: 'Milliseconds per hop [default: 10000]' }
} as const

/** Bounds of check's numeric flags: --port exists for tests (the CA always uses 80). */
export const CHECK_NUMBERS = {
  port: { default: 80, min: 1, max: 65_535 },
  timeout: { default: 10_000, min: 1, max: 120_000 }
} as const

export interface CheckArgs {
  readonly names?: string[] | undefined
  readonly 'domains-txt'?: string | undefined
  readonly resolve?: string[] | undefined
  readonly token?: string | undefined
  readonly expect?: string | undefined
  readonly json?: boolean | undefined
  readonly 'allow-private'?: boolean | undefined
  readonly profile?: 'classic' | 'tlsserver' | 'shortlived' | undefined
  readonly port?: string | undefined
  readonly timeout?: string | undefined
}
