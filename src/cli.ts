// The program, loaded by the entry file: takes the signals over first, then runs the command line.
import { trapSignals } from './serve/signals.js'

// Before anything slow: a SIGHUP or SIGUSR1 during start must find a handler (see signals.ts).
const signals = trapSignals()
// No top-level await: the shipped bundle is CommonJS (Node's ESM loader costs a megabyte and 13 ms).
// Errors are reported and mapped to exit codes inside; this is the net under that, as Node's own would be.
import('./commands.js').then(({ runCommandLine }) => runCommandLine(signals)).catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
