// One siege row as a process of its own, which bench.ts starts in a fresh network namespace: prints its result as JSON.
import { ATTACKS, SIEGE_SERVERS, siegeCell, type SiegeServer } from './siege.js'

const [attack, server, seconds, work] = process.argv.slice(2)
const a = ATTACKS[Number(attack)]
if (a === undefined || !SIEGE_SERVERS.includes(server as SiegeServer) || work === undefined) {
  console.error('usage: siege-row.js ATTACK-INDEX SERVER SECONDS WORK-DIR [--node PATH]')
  process.exit(2)
}
const row = await siegeCell(server as SiegeServer, a, Number(seconds), work)
process.stdout.write(JSON.stringify(row) + '\n')
// The attacker and the servers were told to stop; the namespace goes with this process.
process.exit(0)
