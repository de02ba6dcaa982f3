// Test helpers: responders on 127.0.0.x port 0, raw sockets, temp dirs and CLI child processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pino } from 'pino'
import { buildConfig } from '../src/config/config.js'
import type { RawOptions } from '../src/config/options.js'
import type { Runtime } from '../src/serve/runtime.js'
import { serve, type ServerHandle } from '../src/serve/serve.js'

/** The program as shipped: the bundle that package.json's `bin` names. */
export const CLI = new URL('../bin/acme-responder.cjs', import.meta.url).pathname
const ROOT = new URL('../../', import.meta.url).pathname

/** Whether a user who is neither the owner nor in the group could run the file: o+x on every directory up. */
function reachableByOthers (file: string): boolean {
  for (let d = dirname(file); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false
    if (dirname(d) === d) return (statSync(file).mode & 0o004) !== 0
  }
}

let copied: string | undefined
/** A directory of readable copies for children run as another user, made once per test process. */
function readableDir (): string {
  if (copied === undefined) {
    copied = mkdtempSync(join(tmpdir(), 'acme-responder-cli-'))
    chmodSync(copied, 0o755)
    const dir = copied
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  return copied
}

/**
 * The CLI for a child that runs as another user from the start (nobody). A clone inside a private
 * directory (mkdtemp's 0700, /root) is out of that user's reach: it then gets a readable copy of the
 * built program and its modules (not node_modules/.cache: the other Node.js lines the tests run on).
 */
export function cliFor (uid: number | undefined): string {
  if (uid === undefined || uid === process.getuid?.() || reachableByOthers(CLI)) return CLI
  const cli = join(readableDir(), 'dist/bin/acme-responder.cjs')
  if (!existsSync(cli)) {
    for (const part of ['package.json', 'dist/bin', 'node_modules']) {
      cpSync(join(ROOT, part), join(readableDir(), part), { recursive: true, filter: (src) => src !== join(ROOT, 'node_modules', '.cache') })
    }
  }
  accessSync(cli)
  return cli
}

/**
 * The Node.js for such a child: this one, or a copy where the user can reach it (a line `npm test`
 * installed under node_modules/.cache of a private clone is not).
 */
export function nodeFor (uid: number | undefined): string {
  if (uid === undefined || uid === process.getuid?.() || reachableByOthers(process.execPath)) return process.execPath
  const node = join(readableDir(), 'node')
  if (!existsSync(node)) cpSync(process.execPath, node)
  return node
}

export function tempDir (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'acme-responder-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface Running {
  readonly port: number
  readonly host: string
  readonly url: string
  readonly logs: Array<Record<string, unknown>>
  readonly server: ServerHandle
  close (): Promise<void>
}

/** A responder started through the composition's own serve(), on 127.0.0.x port 0, its log lines captured. */
export async function startResponder (opts: RawOptions, host = '127.0.0.1', wrap?: (rt: Runtime) => Runtime): Promise<Running> {
  const hostPort = host.includes(':') ? `[${host}]` : host
  const config = buildConfig({ listen: [`${hostPort}:0`], ...opts }, 'linux')
  const logs: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (s: string) => { logs.push(JSON.parse(s) as Record<string, unknown>) } })
  const server = await serve(config, { log: { logger, reopen () {}, flush () {} }, account: { user: undefined, uid: undefined, gid: undefined }, ...wrap === undefined ? {} : { wrap } })
  const addr = server.addresses[0] ?? ''
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1))
  return { port, host, url: `http://${hostPort}:${port}`, logs, server, close: () => server.close() }
}

export interface Reply { status: number, headers: IncomingHttpHeaders, body: Buffer, text: string }

/** One HTTP request on its own connection, with full control over Host (fetch() forbids that). */
export function get (r: { port: number, host?: string, localAddress?: string, agent?: Agent }, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: r.host ?? '127.0.0.1', port: r.port, path, method, headers, agent: r.agent ?? false, ...r.localAddress === undefined ? {} : { localAddress: r.localAddress } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** Sends bytes exactly as given and returns everything the server sent until it closed or went quiet. */
export function raw (r: { port: number, host?: string }, bytes: string | Buffer, quietMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(r.port, r.host ?? '127.0.0.1')
    const chunks: Buffer[] = []
    let timer: NodeJS.Timeout | undefined
    const done = (): void => {
      clearTimeout(timer)
      sock.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    const arm = (): void => { clearTimeout(timer); timer = setTimeout(done, quietMs) }
    sock.on('connect', () => { sock.write(bytes); arm() })
    sock.on('data', (c: Buffer) => { chunks.push(c); arm() })
    sock.on('close', done)
    sock.on('error', (err) => { if (chunks.length > 0) done(); else reject(err) })
  })
}

export function statusOf (response: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0)
}

export interface Cli {
  readonly child: ChildProcess
  stdout: string
  stderr: string
  readonly exited: Promise<number | null>
  /** Resolves with the first stdout JSON line matching the predicate. */
  line (pred: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>
}

export function spawnCli (args: string[], env: NodeJS.ProcessEnv = {}, opts: { cwd?: string, uid?: number, gid?: number } = {}): Cli {
  const child = spawn(nodeFor(opts.uid), [cliFor(opts.uid), ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts
  })
  const cli: Cli = {
    child,
    stdout: '',
    stderr: '',
    exited: once(child, 'exit').then(([code]) => code as number | null),
    line (pred, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (const l of cli.stdout.split('\n')) {
            if (!l.startsWith('{')) continue
            const obj = JSON.parse(l) as Record<string, unknown>
            if (pred(obj)) {
              clearTimeout(timer)
              child.stdout?.off('data', check)
              resolve(obj)
              return true
            }
          }
          return false
        }
        const timer = setTimeout(() => reject(new Error(`no matching log line in ${ms} ms; stdout: ${cli.stdout} stderr: ${cli.stderr}`)), ms)
        if (!check()) child.stdout?.on('data', check)
      })
    }
  }
  child.stdout?.on('data', (c: Buffer) => { cli.stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { cli.stderr += c.toString() })
  return cli
}

/** Starts the CLI server and returns it with the port it bound. */
export async function startCli (args: string[], env: NodeJS.ProcessEnv = {}, opts: { uid?: number, gid?: number } = {}): Promise<Cli & { port: number }> {
  const cli = spawnCli(args, env, opts)
  const ready = await Promise.race([
    cli.line((l) => l.msg === 'acme-responder listening'),
    cli.exited.then((code) => { throw new Error(`exited ${code}: ${cli.stderr}`) })
  ]).catch((err: unknown) => {
    // The caller never gets the child to kill: a child left running keeps the test file from ending.
    cli.child.kill('SIGKILL')
    throw err
  })
  return Object.assign(cli, { port: listenPort(ready) })
}

/**
 * Waits until cond() holds (a condition that throws or rejects counts as not yet), checking every 25 ms;
 * resolves with the milliseconds it took. `detail` adds what to show when it times out.
 */
export async function waitFor (cond: () => boolean | Promise<boolean>, what: string, ms = 20_000, detail: () => string = () => ''): Promise<number> {
  const t0 = Date.now()
  const holds = async (): Promise<boolean> => { try { return await cond() } catch { return false } }
  while (!await holds()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail()}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return Date.now() - t0
}

/** The one line a failing command printed (errors are always one line). */
export function oneLine (s: string): string {
  const lines = s.trimEnd().split('\n')
  if (lines.length !== 1) throw new Error(`expected one line, got: ${s}`)
  return lines[0] ?? ''
}

/**
 * Runs the CLI to its end. One that has not ended after `limitMs` (a start that should have failed
 * but serves) is killed, so a regression cannot leave a server behind on a port other tests need.
 */
export async function runCli (args: string[], env: NodeJS.ProcessEnv = {}, opts: { uid?: number, gid?: number } = {}, limitMs = 30_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const cli = spawnCli(args, env, opts)
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), limitMs)
  const code = await cli.exited
  clearTimeout(timer)
  await new Promise((resolve) => setImmediate(resolve))
  return { code, stdout: cli.stdout, stderr: cli.stderr }
}

/** Whether a command is on PATH (for tests that need Debian packages .ci/run installs). */
export function has (cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

export interface HttpServer { readonly url: string, readonly port: number, readonly hits: IncomingMessage[], readonly server: Server }

/** A throwaway HTTP server (a master, a web server in the way) on 127.0.0.x, closed after the test. */
export async function httpServer (t: { after: (fn: () => unknown) => void }, host: string, answer: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<HttpServer> {
  const hits: IncomingMessage[] = []
  const server = createServer((req, res) => { hits.push(req); answer(req, res) })
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  t.after(() => { server.closeAllConnections(); server.close() })
  const bound = (server.address() as AddressInfo).port
  return { url: `http://${host}:${bound}`, port: bound, hits, server }
}

/** The port of the first address in an "acme-responder listening" log line (IPv6 addresses included). */
export function listenPort (line: Record<string, unknown>): number {
  const addr = String((line.listen as string[])[0])
  return Number(addr.slice(addr.lastIndexOf(':') + 1))
}

/** TCP states of the sockets with these local and remote ports (/proc/net/tcp: hex ports, hex state). */
export function tcpStates (localPort: number, remotePort: number): string[] {
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0')
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(`:${hex(localPort)}`) === true && f[2]?.endsWith(`:${hex(remotePort)}`) === true)
    .map((f) => f[3] ?? '')
}
