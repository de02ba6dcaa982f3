// pino JSON logging to stdout or a file, asynchronously, with a safe reopen for newsyslog/logrotate.
import { pino, type DestinationStream, type Logger } from 'pino'
import { openLogFile } from './log-file.js'

export interface Log {
  readonly logger: Logger
  /** Reopens the log file after rotation; a no-op on stdout. */
  reopen (): void
  /** Writes out what is buffered; for every exit path, early ones included. */
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

type Sonic = ReturnType<typeof pino.destination>

function destination (fd: number, file: string | undefined): Sonic {
  // Asynchronous: log writes stay off the request path. The descriptor is open already, so the
  // stream is ready at once and an early exit never meets a "not ready" stream.
  const d = pino.destination({ fd, sync: false })
  // A failed write must not take the server down: the reason goes to stderr.
  d.on('error', (err: Error) => { process.stderr.write(`acme-responder: log ${file ?? 'stdout'}: ${err.message}\n`) })
  return d
}

/**
 * The file is opened by the caller's rules (no symlink, no hard link, chowned by descriptor to the
 * account the process drops to); a reopen opens the path afresh by the same rules, as that account.
 */
export function createLog (level: string, file: string | undefined, owner?: { uid: number | undefined, gid: number | undefined }): Log {
  let current = destination(file === undefined ? 1 : openLogFile(file, owner), file)
  // pino keeps its stream for life: this one forwards to whichever file is current.
  const stream: DestinationStream = { write: (s: string) => { current.write(s) } }
  const logger = pino({ level, base: { pid: process.pid }, timestamp: isoTime() }, stream)
  return {
    logger,
    reopen () {
      if (file === undefined) return
      let fd: number
      try {
        fd = openLogFile(file)
      } catch (err) {
        // Rotated to something we may not open: keep writing to the old descriptor, and say why.
        logger.error({ error: (err as Error).message }, 'cannot reopen the log file; still writing to the old one')
        return
      }
      const old = current
      current = destination(fd, file)
      old.end()
    },
    flush () {
      try {
        current.flushSync()
      } catch {
        // Nothing was buffered, or the file went away: there is nowhere left to report it.
      }
    }
  }
}
