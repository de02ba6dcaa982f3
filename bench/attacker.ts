// The siege's attacker as a process of its own (so its 12,000 sockets do not slow the CA's clock): holds
// the connections until SIGTERM and prints its counts as a JSON line every 250 ms.
import { siege, type AttackKind } from '../test/siege.js'

const [port, kind, connections, from] = process.argv.slice(2)
const attack = siege({
  port: Number(port),
  host: '127.0.0.1',
  kind: kind as AttackKind,
  connections: Number(connections),
  from: (from ?? '127.0.11.1').split(','),
  // The numbers: a slowloris line every 2 s, a keep-alive visitor's page every 4 s.
  everyMs: kind === 'slowloris' ? 2000 : 4000
})
const report = (): void => { process.stdout.write(JSON.stringify({ open: attack.open, closed: attack.closed, opened: attack.opened }) + '\n') }
const timer = setInterval(report, 250)
// Whoever reads the reports may be gone before SIGTERM arrives: that is the end, not an error.
process.stdout.on('error', () => process.exit(0))
process.on('SIGTERM', () => {
  clearInterval(timer)
  attack.stop()
  process.exit(0)
})
