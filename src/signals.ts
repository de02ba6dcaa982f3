// Signal handling: SIGHUP reopens the log and reloads, SIGTERM/SIGINT drain and exit 0 within a bound.
import type { Logger } from 'pino'

export interface Lifecycle {
  readonly log: () => Logger
  reload (): Promise<void>
  shutdown (): Promise<void>
  exit (code: number): void
}

export function installSignals (life: Lifecycle): void {
  let reloading = Promise.resolve()
  process.on('SIGHUP', () => {
    // Serialised: two quick HUPs from a rotation script must not interleave two reloads.
    reloading = reloading.then(() => life.reload()).catch((err: unknown) => {
      life.log().error({ err }, 'reload failed')
    })
  })
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    life.log().info({ signal }, 'stopping: finishing in-flight requests')
    life.shutdown().then(() => life.exit(0), (err: unknown) => {
      life.log().error({ err }, 'shutdown failed')
      life.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
