#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point: traps signals first, turns on Node's compile cache where there is one (Node 22+), then runs the command line.
import module from 'node:module'
import { trapSignals } from './serve/signals.js'

// Before anything slow: a SIGHUP or SIGUSR1 during start must find a handler (see signals.ts).
const signals = trapSignals()
// What loads later (yargs for help and check, undici for proxy mode) is compiled once, then cached.
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()
// No top-level await: the shipped bundle is CommonJS (Node's ESM loader costs a megabyte and 13 ms).
// Errors are reported and mapped to exit codes inside; this is the net under that, as Node's own would be.
import('./commands.js').then(({ runCommandLine }) => runCommandLine(signals)).catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
