#!/usr/bin/env node
// Entry point: turns on Node's compile cache where there is one (Node 22+), then loads the command line.
import module from 'node:module'

// Static imports would be compiled before the cache is on: the rest comes in through import().
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()
await import('./commands.js')
