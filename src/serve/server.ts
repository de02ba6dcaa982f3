// node:http servers for every listener, with the limits that keep slow or hostile clients from hurting.
import { createServer, ServerResponse, type RequestListener, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Listener } from '../config/listen.js'
import type { ConnectionTable } from './connection-table.js'
import type { Certificates } from './certificates.js'

/**
 * What an HTTPS listener needs, loaded only when a certificate is given (node:https, node:tls and
 * node:crypto cost a plain port-80 responder's start nothing): node:https, the certificates now.
 */
export interface TlsShell {
  readonly https: typeof import('node:https')
  readonly minVersion: 'TLSv1.2'
  readonly certificates: () => Certificates | undefined
  /** A handshake failed (a scanner, TLS 1.1, no shared cipher): counted, not logged one by one. */
  readonly failed: () => void
}

export interface Limits {
  readonly maxHeaderSize: number
  readonly headersTimeout: number
  readonly requestTimeout: number
  readonly keepAliveTimeout: number
}

/**
 * How long an answer may sit unread before its socket is cut: past both the request and the keep-alive
 * timeouts, so it never cuts what those allow.
 */
export function unreadAnswerTimeout (l: Limits): number {
  return Math.max(l.requestTimeout, l.keepAliveTimeout) + 1000
}

export class ListenError extends Error {
  readonly exitCode = 1
}

export function formatAddress (l: { host: string, port: number }): string {
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`
}

const CLIENT_ERRORS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout'
}

function onClientError (err: NodeJS.ErrnoException, socket: Socket, count: (kind: string) => void): void {
  // A peer that hung up mid-request is not a bad request, just gone.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  count('bad-request')
  const status = CLIENT_ERRORS[err.code ?? ''] ?? '400 Bad Request'
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  // end() waits for the peer; a client that never reads must not keep the socket.
  setTimeout(() => socket.destroy(), 1000).unref()
}

/** Sets the limits a reload may change, on new and running servers alike (one place for both). */
export function applyLimits (servers: readonly Server[], l: Limits): void {
  for (const s of servers) {
    s.headersTimeout = l.headersTimeout
    s.requestTimeout = l.requestTimeout
    s.keepAliveTimeout = l.keepAliveTimeout
  }
}

const STOP = (): number => -1

/**
 * node:http parses a whole read (about 2,500 pipelined requests in 64 KB) and keeps every request and
 * response it made until the socket's close, which comes only after the event loop's turn: hundreds of
 * sockets read in one turn held gigabytes (heap out of memory). The parser asks its onIncoming for each
 * request's headers; -1 from it is a callback error to llhttp, which stops there (node resets onIncoming
 * when it frees the parser).
 */
function stopParsing (socket: Socket): void {
  const parser = (socket as Socket & { parser?: { onIncoming?: unknown } | null }).parser
  if (parser !== null && parser !== undefined) parser.onIncoming = STOP
}

/**
 * A node:http server whose connections the table admits, evicts and counts: server.maxConnections would
 * refuse every newcomer once full, handing the host to whoever came first.
 */
export function createHttpServer (handler: RequestListener, limits: Limits, count: (kind: string) => void, conns: ConnectionTable, tls?: TlsShell): Server {
  /**
   * Hears of each answer's 'finish' as it is emitted, instead of a listener added to every answer: node
   * already has one there, and with two it copies the listener array on every emit (about 1k
   * instructions an answer, measured with callgrind). The ServerResponse option is node's own hook.
   */
  class Response extends ServerResponse {
    override emit (event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'finish') conns.answered(this.req.socket)
      return super.emit(event, ...args)
    }
  }
  const options = {
    // Read by the parser of each new connection from the options only: a reload cannot change it.
    maxHeaderSize: limits.maxHeaderSize,
    // Node checks the header and request timeouts only this often (30 s by default), which would let a
    // slowloris hold a socket for half a minute past its deadline.
    connectionsCheckingInterval: 1000,
    // Host is checked by the core, which also accepts HTTP/1.0 without one and refuses duplicates.
    requireHostHeader: false,
    noDelay: true,
    ServerResponse: Response
  }
  const listener: RequestListener = (req, res) => {
    if (!conns.request(req.socket)) {
      stopParsing(req.socket)
      return
    }
    handler(req, res)
  }
  const first = tls?.certificates()?.first
  const server = tls === undefined || first === undefined
    ? createServer(options, listener)
    // https.Server is an http.Server over TLS (node mixes the same methods in); the types keep them apart.
    : tls.https.createServer({
      ...options,
      key: first.key,
      cert: first.cert,
      minVersion: tls.minVersion,
      ALPNProtocols: ['http/1.1'],
      // A client without SNI, or with a name no certificate has, gets the first certificate.
      SNICallback: (name, done) => { done(null, tls.certificates()?.contextFor(name)) }
    }, listener) as unknown as Server
  server.on('tlsClientError', (_err: Error, socket: Socket) => {
    tls?.failed()
    socket.destroy()
  })
  applyLimits([server], limits)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, count))
  server.on('connection', (socket: Socket) => conns.admit(socket))
  return server
}

/** Binds one listener; resolves to undefined when an optional IPv6 listener has no IPv6 to bind. */
export function listen (server: Server, l: Listener): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      if (l.optional && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
        resolve(undefined)
        return
      }
      const why = err.code === 'EADDRINUSE'
        ? 'address already in use'
        : err.code === 'EACCES'
          ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
          : err.code === 'EADDRNOTAVAIL' ? 'no such address on this host' : err.message
      reject(new ListenError(`cannot listen on ${formatAddress(l)}: ${why}`))
    }
    const onListening = (): void => {
      server.off('error', onError)
      resolve(server)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    // A client churning connections (each one the table closes, reopened at once) keeps the accept queue
    // full at node's 511, and a CA's SYN that finds it full is retried only after a second: the kernel's
    // somaxconn (4096 by default on Linux since 5.4, 128 on FreeBSD's kern.ipc.soacceptqueue) caps this.
    server.listen({ host: l.host, port: l.port, ipv6Only: l.ipv6Only, exclusive: true, backlog: 4096 })
  })
}

/** Stops accepting, lets in-flight requests finish, and cuts whatever is left after graceMs. */
export async function drain (servers: readonly Server[], conns: ConnectionTable, graceMs: number): Promise<void> {
  const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
  // server.close() drops idle keep-alive sockets, but closeIdleConnections misses pre-request
  // sockets: a client that connected and said nothing would hold the exit for the headers timeout.
  for (const s of servers) s.closeIdleConnections()
  for (const socket of conns.notServing()) socket.destroy()
  const timer = setTimeout(() => { for (const s of servers) s.closeAllConnections() }, graceMs)
  await Promise.all(closed)
  clearTimeout(timer)
}
