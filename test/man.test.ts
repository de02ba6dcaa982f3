// The manual keeps up with the command line: every option of --help and check --help is in it, and mandoc finds nothing.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { has, runCli } from './helpers.js'

const PAGE = new URL('../../man/acme-responder.8', import.meta.url).pathname
const page = readFileSync(PAGE, 'utf8')

/** The long options a help text lists (the first word of each option line). */
function optionsIn (help: string): string[] {
  return [...help.matchAll(/^\s+(?:-\w, )?--([a-z][a-z-]*)/gm)].map((m) => m[1] ?? '')
}

/** mdoc writes --name as `Fl -name`, alone or in a list (`.Fl -config , -master`). */
const documented = (name: string): boolean => new RegExp(`(?:\\bFl |, )-${name}(?![a-z-])`).test(page)

test('every option of --help, check --help and thumbprint --help is in the manual', async () => {
  const seen = new Set<string>()
  for (const args of [['--help'], ['check', '--help'], ['thumbprint', '--help']]) {
    const r = await runCli(args)
    assert.equal(r.code, 0, r.stderr)
    const names = optionsIn(r.stdout)
    assert.ok(names.length > 0, `options found in ${args.join(' ')}`)
    for (const n of names) seen.add(n)
  }
  // The table's limits and the check flags are all there: the help is made from them.
  for (const n of ['max-connections-per-client', 'proxy-budget', 'domains-txt', 'allow-private', 'account-key']) assert.ok(seen.has(n), n)
  const missing = [...seen].filter((n) => !documented(n))
  assert.deepEqual(missing, [], `options in --help but not in man/acme-responder.8: ${missing.join(', ')}`)
  // And every command.
  for (const c of ['serve', 'check', 'thumbprint', 'completion']) assert.match(page, new RegExp(`^\\.It Cm ${c}`, 'm'), c)
})

test('the manual passes mandoc -T lint -W warning', { skip: has('mandoc') ? false : 'needs mandoc (Debian package mandoc; .ci/run installs it)' }, () => {
  // mandoc exits non-zero and prints each finding; nothing printed means clean.
  const out = execFileSync('sh', ['-c', 'mandoc -T lint -W warning "$1" 2>&1; true', 'sh', PAGE], { encoding: 'utf8' })
  assert.equal(out, '')
})
