#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point: traps signals first, turns on Node's compile cache where there is one (Node 22+), then runs the command line.
import module from 'node:module'
import { trapSignals } from './serve/signals.js'

// Before anything slow: a SIGHUP or SIGUSR1 during start must find a handler (see signals.ts).
const signals = trapSignals()
// Static imports would be compiled before the cache is on: the rest comes in through import().
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()
const { runCommandLine } = await import('./commands.js')
await runCommandLine(signals)
