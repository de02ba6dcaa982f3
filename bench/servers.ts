// The servers the benchmark compares, each pinned to CPU 0: acme-responder, a constant node:http, nginx.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { get, has } from '../test/helpers.js'

export interface Served { readonly name: string, readonly port: number, readonly pid: number, stop (): void }

export const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0'
export const KEY_AUTH = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`
/** The program as shipped (the bundle package.json's `bin` names). */
const CLI = new URL('../bin/acme-responder.cjs', import.meta.url).pathname

/** What rc.d/acme_responder, rc.d/acme-responder.service and the Dockerfile pass to node. */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=2']

/** The Node.js that runs the servers: this one, or --node PATH (to compare Node 20, 22 and 24). */
const at = process.argv.indexOf('--node')
export const NODE = at > 0 ? process.argv[at + 1] ?? process.execPath : process.execPath

export { has }

const pin = (args: string[]): [string, string[]] => has('taskset') ? ['taskset', ['-c', '0', ...args]] : [args[0] ?? '', args.slice(1)]

export async function status (port: number, path: string, host = 'www.example.com'): Promise<{ status: number, body: string, location?: string }> {
  const r = await get({ port }, path, { host })
  return { status: r.status, body: r.text, ...(r.headers.location === undefined ? {} : { location: r.headers.location }) }
}

export async function waitUp (port: number, path: string, want: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if ((await status(port, path).catch(() => ({ status: 0 }))).status === want) return
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  throw new Error(`no answer ${want} on port ${port}${path}`)
}

function start (name: string, port: number, cmd: string[], pidOf: (c: ChildProcess) => number = (c) => c.pid ?? 0): Served {
  const [bin, args] = pin(cmd)
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  return { name, port, get pid () { return pidOf(child) }, stop () { child.kill('SIGTERM') } }
}

/**
 * As operators run it: the V8 flag every launch path sets, a log file; `extra` may set the log level
 * (the throughput rows use warn, as the targets were set without a line per request).
 */
export function acmeResponder (port: number, challengeDir: string, extra: string[] = [], listen = `127.0.0.1:${port}`): Served {
  return start('acme-responder', port, [NODE, ...SERVICE_NODE_FLAGS, CLI, '--listen', listen, '--challenge-dir', challengeDir,
    '--master', 'www.example.com', '--log-file', join(dirname(challengeDir), `acme-responder-${port}.log`), ...extra])
}

/** The node:http ceiling: the least a node:http server can do per request, with the same V8 flags. */
export function ceiling (port: number): Served {
  // Idle keep-alive connections are held as long as acme-responder holds them in the footprint rows.
  const code = `const srv = require('node:http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }); s.end('ok') }); srv.keepAliveTimeout = 120000; srv.listen(${port}, '127.0.0.1')`
  return start('node:http constant', port, [NODE, ...SERVICE_NODE_FLAGS, '-e', code])
}

/** The floor: acme-responder's exact bytes and the freshness lstat, nothing else (bench/floor.ts). */
export function floor (port: number, challengeDir: string): Served {
  return start(FLOOR, port, [NODE, ...SERVICE_NODE_FLAGS, new URL('floor.js', import.meta.url).pathname, String(port), challengeDir])
}

export const FLOOR = 'node:http same bytes + lstat'

/** nginx with one worker: try_files for the token, 302 for a missing one, 503 page for the rest. */
export function nginx (port: number, webroot: string, dir: string, workerConnections = 16384, tls?: { cert: string, key: string }): Served {
  const ssl = tls === undefined ? '' : ` ssl;\n    ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};\n    ssl_protocols TLSv1.2 TLSv1.3`
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
worker_rlimit_nofile ${workerConnections + 1024};
events { worker_connections ${workerConnections}; }
http {
  # Its default: one access log line per request, as acme-responder logs each challenge request.
  access_log ${dir}/nginx-access.log;
  server {
    listen 127.0.0.1:${port} reuseport${ssl};
    keepalive_timeout 120s;
    keepalive_requests 100000;
    location /.well-known/acme-challenge/ {
      root ${webroot};
      default_type application/jose+json;
      add_header Cache-Control no-store;
      try_files $uri @master;
    }
    location @master { return 302 http://www.example.com$uri; }
    location / { add_header Retry-After 3600; return 503; }
  }
}
`)
  const pidOf = (): number => {
    const master = readFileSync(join(dir, 'nginx.pid'), 'utf8').trim()
    const kids = spawnSync('pgrep', ['-P', master], { encoding: 'utf8' }).stdout.trim().split('\n')
    return Number(kids[0] ?? master)
  }
  return start('nginx 1 worker', port, ['nginx', '-c', join(dir, 'nginx.conf'), '-p', dir], pidOf)
}

/** CPU time (user + system) the process has used, in ms: per answer, steadier than rps on a shared machine. */
export function cpuMs (pid: number): number {
  // After the last ')': the command name before it may hold spaces and parentheses.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
  // utime + stime, in USER_HZ ticks (100 a second on every Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10
}

export function rssKb (pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0)
}
