// Drives one server with wrk (pinned to CPU 1) and reads throughput, latency and wrong answers.
import { execFileSync } from 'node:child_process'
import { has } from './servers.js'

export interface Load {
  readonly rps: number
  readonly p50ms: number
  readonly p99ms: number
  readonly requests: number
  readonly non2xx3xx: number
  readonly errors: number
}

function ms (text: string | undefined): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text ?? '')
  if (m === null) return NaN
  const v = Number(m[1])
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v
}

export function wrk (port: number, path: string, host: string, seconds: number, connections = 64, scheme: 'http' | 'https' = 'http'): Load {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${host}`, `${scheme}://127.0.0.1:${port}${path}`]
  const out = has('taskset') ? execFileSync('taskset', ['-c', '1', 'wrk', ...args], { encoding: 'utf8' }) : execFileSync('wrk', args, { encoding: 'utf8' })
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50ms: ms(/\s50%\s+(\S+)/.exec(out)?.[1]),
    p99ms: ms(/\s99%\s+(\S+)/.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx3xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errors === null ? 0 : errors.slice(1).reduce((a, b) => a + Number(b), 0)
  }
}
