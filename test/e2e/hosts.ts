// The end-to-end topology: one acme-responder per name, each on its own loopback address, port 80.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { startCli, type Cli } from '../helpers.js'

export interface Host {
  readonly name: string
  readonly address: string
  readonly cli: Cli
}

export interface HostSpec {
  readonly name: string
  readonly address: string
  readonly args: readonly string[]
}

export async function startHosts (specs: readonly HostSpec[]): Promise<Host[]> {
  const hosts: Host[] = []
  try {
    for (const s of specs) {
      const cli = await startCli(['--listen', `${s.address}:80`, '--log-level', 'info', ...s.args])
      hosts.push({ name: s.name, address: s.address, cli })
    }
  } catch (err) {
    await stopHosts(hosts)
    throw err
  }
  return hosts
}

/**
 * Kills every responder and waits until each has exited: the next scenario binds the same addresses,
 * and a killed process holds its port until it is gone.
 */
export async function stopHosts (hosts: readonly Host[]): Promise<void> {
  for (const h of hosts) h.cli.child.kill('SIGKILL')
  await Promise.all(hosts.map((h) => h.cli.exited))
}

/** What each responder saw of the validator, one line per challenge request. */
export function traffic (hosts: readonly Host[]): string {
  const lines: string[] = []
  for (const h of hosts) {
    for (const l of h.cli.stdout.split('\n')) {
      if (!l.includes('"challenge request"')) continue
      const e = JSON.parse(l) as Record<string, unknown>
      const to = e.location ?? e.master
      lines.push(`  ${h.name} (${h.address}) ← ${String(e.ua ?? '')} Host: ${String(e.host)} → ${String(e.status)} ${String(e.outcome)}${to === undefined ? '' : ` → ${String(to)}`}`)
    }
  }
  return lines.join('\n')
}

/**
 * Stops each responder cleanly (SIGTERM: a validation under way is summarised then) and returns the
 * validation summaries each wrote, one line per token, with the hosts that wrote a failing one.
 */
export async function summaries (hosts: readonly Host[]): Promise<{ text: string, failing: string[], by: Map<string, number> }> {
  for (const h of hosts) h.cli.child.kill('SIGTERM')
  await Promise.all(hosts.map((h) => h.cli.exited))
  const lines: string[] = []
  const failing: string[] = []
  const by = new Map<string, number>()
  for (const h of hosts) {
    for (const l of h.cli.stdout.split('\n')) {
      if (!l.includes('"msg":"validation')) continue
      const e = JSON.parse(l) as Record<string, unknown>
      if (e.level !== 30) failing.push(h.name)
      by.set(h.name, (by.get(h.name) ?? 0) + 1)
      lines.push(`  ${h.name}: ${String(e.msg)}: ${String(e.requests)} request(s) from ${JSON.stringify(e.from)}, Host ${JSON.stringify(e.hosts)}, ${JSON.stringify(e.outcomes)} ${JSON.stringify(e.statuses)}${e.masters === undefined ? '' : ` via ${JSON.stringify(e.masters)}`} over ${String(e.spanMs)} ms`)
    }
  }
  return { text: lines.join('\n'), failing, by }
}

export function emptyDir (root: string, name: string): string {
  const d = join(root, name)
  mkdirSync(d, { recursive: true })
  return d
}
