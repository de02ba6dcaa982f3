// The errors that exit 2: invalid configuration (naming the option) and command-line misuse.

/** A configuration problem: the message names the option, so it can be printed as the one line. */
export class ConfigError extends Error {
  /** Invalid configuration exits 2. */
  readonly exitCode = 2
  constructor (readonly option: string, problem: string) {
    super(`invalid --${option}: ${problem}`)
    this.name = 'ConfigError'
  }
}

/** A command-line mistake (unknown flag, missing value, a check without names): exit 2 as well. */
export class UsageError extends Error {
  readonly exitCode = 2
}
