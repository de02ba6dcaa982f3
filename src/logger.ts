// pino JSON logging to stdout or a file, asynchronously, with reopen for newsyslog/logrotate.
import { once } from 'node:events'
import { pino, type Logger } from 'pino'

export interface Log {
  readonly logger: Logger
  /** Settles once the file is open: wait for it before dropping root, or the open may be refused. */
  readonly ready: Promise<unknown>
  /** Reopens the log file after rotation; a no-op on stdout. */
  reopen (): void
  flush (): void
}

/** ISO timestamps, formatted once per millisecond rather than once per line. */
function isoTime (): () => string {
  let ms = 0
  let text = ''
  return () => {
    const now = Date.now()
    if (now !== ms) {
      ms = now
      text = `,"time":"${new Date(now).toISOString()}"`
    }
    return text
  }
}

export function createLog (level: string, file: string | undefined): Log {
  // An asynchronous destination keeps log writes off the request path.
  const dest = pino.destination({ dest: file ?? 1, sync: false, mkdir: false, append: true })
  // A failed reopen (rotated to a file we may not open) must not take the server down: the old
  // descriptor stays in use, and the reason goes to stderr.
  dest.on('error', (err: Error) => { process.stderr.write(`acme-responder: log file ${String(file)}: ${err.message}\n`) })
  const logger = pino({ level, base: { pid: process.pid }, timestamp: isoTime() }, dest)
  return {
    logger,
    ready: file === undefined ? Promise.resolve() : once(dest, 'ready'),
    reopen () {
      if (file !== undefined) dest.reopen()
    },
    flush () {
      try {
        dest.flushSync()
      } catch {
        // Nothing was buffered, or the file went away: there is nowhere left to report it.
      }
    }
  }
}
