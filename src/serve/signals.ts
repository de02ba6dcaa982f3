// Signals: trapped from the first moment, acted on once the server is up (reload, drain, inspector refusal).
import type { Logger } from 'pino'
import { adoptEarlySignals } from './early-signals.js'

export interface Lifecycle {
  readonly log: () => Logger
  reload (): Promise<void>
  shutdown (): Promise<void>
  exit (code: number): void
}

/** How long a stop waits for a reload under way. */
export const RELOAD_WAIT_MS = 3000

export interface SignalGate {
  /** Called once the server is serving: a SIGHUP that came during start is acted on now. */
  attach (life: Lifecycle): void
}

/**
 * Installed as the program's first statement, taking over from the entry file's handlers. Without a handler a SIGHUP kills Node, and systemd takes death
 * by SIGHUP for a clean exit (no restart): a logrotate run during start would stop the service for good.
 * SIGUSR1 would start Node's inspector on 127.0.0.1:9229, with no authentication: any process of the
 * same user could then run code in the process that holds port 80. A handler of our own stops that.
 * SIGTERM and SIGINT keep their default (exit at once) until there is something to drain.
 */
export function trapSignals (): SignalGate {
  let life: Lifecycle | undefined
  let pendingReload = false
  let reloading = Promise.resolve()
  const reload = (l: Lifecycle): void => {
    // Serialised: two quick HUPs from a rotation script must not interleave two reloads.
    reloading = reloading.then(() => l.reload()).catch((err: unknown) => {
      l.log().error({ err }, 'reload failed')
    })
  }
  process.on('SIGHUP', () => {
    if (life === undefined) pendingReload = true
    else reload(life)
  })
  process.on('SIGUSR1', () => {
    const msg = 'SIGUSR1 ignored: the inspector stays off'
    if (life === undefined) process.stderr.write(`acme-responder: ${msg}\n`)
    else life.log().warn({ signal: 'SIGUSR1' }, msg)
  })
  // The entry file's handlers caught what came while the program was being parsed.
  if (adoptEarlySignals() > 0) pendingReload = true

  return {
    attach (l) {
      life = l
      let stopping = false
      const stop = (signal: string): void => {
        if (stopping) return
        stopping = true
        l.log().info({ signal }, 'stopping: finishing in-flight requests')
        // A reload under way finishes first (it may hold a half-built proxy), but a stuck one (a file
        // system that hangs) must not hold the stop: it gets RELOAD_WAIT_MS.
        let timer: NodeJS.Timeout | undefined
        const stuck = new Promise<void>((resolve) => { timer = setTimeout(resolve, RELOAD_WAIT_MS) })
        Promise.race([reloading, stuck]).then(() => { clearTimeout(timer); return l.shutdown() }).then(() => l.exit(0), (err: unknown) => {
          l.log().error({ err }, 'shutdown failed')
          l.exit(1)
        })
      }
      process.on('SIGTERM', () => stop('SIGTERM'))
      process.on('SIGINT', () => stop('SIGINT'))
      if (pendingReload) {
        pendingReload = false
        reload(l)
      }
    }
  }
}
