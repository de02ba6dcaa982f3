// The one kind of error invalid configuration raises: it names the option, and exits 2.

/** A configuration problem: the message names the option, so it can be printed as the one line. */
export class ConfigError extends Error {
  /** Invalid configuration exits 2. */
  readonly exitCode = 2
  constructor (readonly option: string, problem: string) {
    super(`invalid --${option}: ${problem}`)
    this.name = 'ConfigError'
  }
}
