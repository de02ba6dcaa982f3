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
export function createHitCounter (log: () => Logger, intervalMs = 60_000): HitCounter {
  let counts = new Map<string, number>()
  const flush = (): void => {
    if (counts.size === 0) return
    const summary = Object.fromEntries(counts)
    counts = new Map()
    log().info({ hits: summary, seconds: intervalMs / 1000 }, 'requests answered without a log line each')
  }
  const timer = setInterval(flush, intervalMs)
  timer.unref()
  return {
    count (kind) {
      const n = counts.get(kind)
      if (n === undefined) log().info({ kind }, `${kind} answered; further hits are counted and summarised every ${intervalMs / 1000} s`)
      counts.set(kind, (n ?? 0) + 1)
    },
    flush,
    stop () {
      clearInterval(timer)
      flush()
    }
  }
}
