#!/usr/bin/env -S node --max-semi-space-size=2
// The shipped command's entry file: traps SIGHUP and SIGUSR1, turns on the compile cache, loads the program.
import module from 'node:module'
import { trapEarlySignals } from './serve/early-signals.js'

trapEarlySignals()
// Node 22+: the program (and yargs, undici when they load) is compiled once, then read from the cache.
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()
// Kept out of this file's bundle (esbuild --external), so that this file stays a few hundred bytes.
require('./program.cjs')
