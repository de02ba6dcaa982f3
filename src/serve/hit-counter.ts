// Counts high-volume, low-value hits (maintenance page, bad requests) and logs one summary per interval.
import type { Logger } from 'pino'

export interface HitCounter {
  count (kind: string): void
  flush (): void
  stop (): void
}

/**
 * When Apache is down the whole web traffic lands on the maintenance page; one log line per hit would
 * fill the disk, so the first hit of a quiet period is logged and the rest are counted.
 */
export function createHitCounter (log: () => Logger, intervalMs = 60_000, connections: () => Record<string, unknown> | undefined = () => undefined): HitCounter {
  // A box per kind: a hit only bumps it (one lookup where get-then-set would be two).
  let counts = new Map<string, { n: number }>()
  const flush = (): void => {
    // The connection table's closes are summarised here too: a line each would be a flood's disk fill.
    const closed = connections()
    if (closed !== undefined) log().warn({ connections: closed, seconds: intervalMs / 1000 }, 'connections closed to make room')
    if (counts.size === 0) return
    const summary = Object.fromEntries([...counts].map(([kind, c]) => [kind, c.n]))
    counts = new Map()
    log().info({ hits: summary, seconds: intervalMs / 1000 }, 'requests answered without a log line each')
  }
  const timer = setInterval(flush, intervalMs)
  timer.unref()
  return {
    count (kind) {
      const c = counts.get(kind)
      if (c !== undefined) {
        c.n++
        return
      }
      log().info({ kind }, `${kind} answered; further hits are counted and summarised every ${intervalMs / 1000} s`)
      counts.set(kind, { n: 1 })
    },
    flush,
    stop () {
      clearInterval(timer)
      flush()
    }
  }
}
