// Attackers for the siege tests and bench: idle, slowloris and keep-alive connections, reopened when closed.
import { connect, type Socket } from 'node:net'

export type AttackKind = 'idle' | 'slowloris' | 'keep-alive'

export interface Siege {
  /** Connections the attacker has open now (connected, not yet closed). */
  readonly open: number
  /** How many of its connections the server has closed so far. */
  readonly closed: number
  /** Connections opened, the first ones and every reopen. */
  readonly opened: number
  stop (): void
}

export interface SiegeSettings {
  readonly port: number
  readonly host: string
  readonly kind: AttackKind
  readonly connections: number
  /** Source addresses, used in turn (one for a single-address siege). */
  readonly from: readonly string[]
  /** How often a slowloris sends a header line, or a keep-alive client asks again. */
  readonly everyMs: number
}

/**
 * Holds `connections` open as the kind says, reopening each one the server closes, until stop(). The
 * keep-alive kind asks for the maintenance page again and again (a busy site's visitors).
 */
export function siege (s: SiegeSettings): Siege {
  let running = true
  let open = 0
  let closed = 0
  let opened = 0
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Socket>()

  function one (i: number): void {
    if (!running) return
    opened++
    const c = connect({ port: s.port, host: s.host, localAddress: s.from[i % s.from.length] })
    sockets.add(c)
    let timer: NodeJS.Timeout | undefined
    let connected = false
    c.on('error', () => {})
    c.on('connect', () => {
      connected = true
      open++
      if (s.kind === 'idle') return
      if (s.kind === 'slowloris') c.write('GET / HTTP/1.1\r\nHost: victim.example\r\n')
      const tick = (): void => { c.write(s.kind === 'slowloris' ? 'X-Slow: 1\r\n' : 'GET / HTTP/1.1\r\nHost: victim.example\r\n\r\n') }
      if (s.kind === 'keep-alive') tick()
      timer = setInterval(tick, s.everyMs)
      timers.add(timer)
    })
    // Read, so that a close is seen (a paused socket never sees the FIN) and the place is taken again.
    c.resume()
    c.on('close', () => {
      sockets.delete(c)
      if (timer !== undefined) { clearInterval(timer); timers.delete(timer) }
      if (connected) {
        open--
        if (running) closed++
      }
      if (!running) return
      // Straight back: an attacker does not wait.
      setImmediate(() => one(i))
    })
  }

  for (let i = 0; i < s.connections; i++) one(i)
  return {
    get open () { return open },
    get closed () { return closed },
    get opened () { return opened },
    stop () {
      running = false
      for (const t of timers) clearInterval(t)
      for (const c of sockets) c.destroy()
    }
  }
}

/** Source addresses 127.0.<third>.1 … 127.0.<third>.n, for sieges from many addresses. */
export const addresses = (third: number, n: number): string[] => Array.from({ length: n }, (_, i) => `127.0.${third}.${i + 1}`)
