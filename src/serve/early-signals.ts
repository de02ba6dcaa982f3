// The first handlers of SIGHUP and SIGUSR1, installed by the entry file before the program is even parsed.

/** Marks the early handlers, so that trapSignals() finds them among the process's listeners. */
const EARLY = Symbol.for('acme-responder.early-signals')

type EarlyHandler = (() => void) & { [EARLY]?: { hups: number } }

/**
 * Until a process has a handler, SIGHUP kills it (and systemd takes that death for a clean exit), and
 * SIGUSR1 opens the inspector. Node parses a whole file before running a line of it: the handler must be
 * in a file small enough to run first, ahead of the program's 300 KB.
 */
export function trapEarlySignals (): void {
  const state = { hups: 0 }
  const hup: EarlyHandler = () => { state.hups++ }
  hup[EARLY] = state
  const usr1: EarlyHandler = () => { process.stderr.write('acme-responder: SIGUSR1 ignored: the inspector stays off\n') }
  usr1[EARLY] = state
  process.on('SIGHUP', hup)
  process.on('SIGUSR1', usr1)
}

/**
 * Removes the early handlers (after the caller has installed its own, so that there is no moment
 * without one) and says how many SIGHUPs they caught.
 */
export function adoptEarlySignals (): number {
  let hups = 0
  for (const signal of ['SIGHUP', 'SIGUSR1'] as const) {
    for (const l of process.listeners(signal) as EarlyHandler[]) {
      const state = l[EARLY]
      if (state === undefined) continue
      if (signal === 'SIGHUP') hups = state.hups
      process.off(signal, l)
    }
  }
  return hups
}
