// The upstream fetches' queue: a few run at once, and a free slot goes to the network that has the fewest running.

/** Where a fetch comes from: its client (IPv4 address, IPv6 /64) and the network above it (/24, /48). */
export interface Origin { readonly client: string, readonly network: string }

export interface FairQueueLimits {
  /** Fetches running at once (the upstream sockets). */
  readonly slots: number
  /** Fetches one client may have running or waiting; more are refused at once. */
  readonly perClient: number
  /** Fetches waiting in all: past it, the network waiting most loses its newest. */
  readonly waiting: number
}

interface Task { readonly start: () => void, readonly refuse: () => void }
/** A network's or a client's counts; a client also holds its waiting tasks, oldest first. */
interface Group { readonly key: string, running: number, waiting: number }
interface Client extends Group { readonly tasks: Task[] }
interface Network extends Group { readonly clients: Map<string, Client> }

export interface FairQueue {
  /** Runs job when a slot is free and it is this origin's turn; 'busy' when it is refused or pushed out. */
  run <T>(origin: Origin, job: () => Promise<T>): Promise<T | 'busy'>
}

/** Of the groups with something waiting, the one with the fewest running; ties to the first in map order. */
function fewestRunning<G extends Group> (groups: Iterable<G>): G | undefined {
  let best: G | undefined
  for (const g of groups) if (g.waiting > 0 && (best === undefined || g.running < best.running)) best = g
  return best
}

/** Of the groups with something waiting, the one holding most (waiting, or also running). */
function holdingMost<G extends Group> (groups: Iterable<G>, running: boolean): G | undefined {
  let best: G | undefined
  const held = (g: G): number => g.waiting + (running ? g.running : 0)
  for (const g of groups) if (g.waiting > 0 && (best === undefined || held(g) > held(best))) best = g
  return best
}

/** Moves a group to the end of its map: among equals, the next pick goes round. */
function toBack<G extends Group> (map: Map<string, G>, g: G): void {
  map.delete(g.key)
  map.set(g.key, g)
}

/**
 * One network flooding (65,536 /64s in a /48, or a /24's addresses, each within its own per-client cap)
 * fills the upstream sockets with its fetches. A FIFO in front of them makes the CA's fetch wait behind
 * all of those; picking the network with the fewest fetches running, then its client with the fewest,
 * makes a newcomer wait only for the first fetch in flight to end.
 */
export function createFairQueue (limits: FairQueueLimits): FairQueue {
  const networks = new Map<string, Network>()
  let running = 0
  let waiting = 0

  /** A task leaves the queue: the client's oldest, to run, or its newest, pushed out. */
  function dequeue (net: Network, client: Client, newest = false): Task | undefined {
    const task = newest ? client.tasks.pop() : client.tasks.shift()
    if (task === undefined) return undefined
    client.waiting--
    net.waiting--
    waiting--
    return task
  }

  function next (): void {
    while (running < limits.slots) {
      const net = fewestRunning(networks.values())
      const client = net === undefined ? undefined : fewestRunning(net.clients.values())
      if (net === undefined || client === undefined) return
      const task = dequeue(net, client)
      if (task === undefined) return
      running++
      net.running++
      client.running++
      toBack(networks, net)
      toBack(net.clients, client)
      task.start()
    }
  }

  /** Forgets what holds nothing any more. */
  function tidy (net: Network, client: Client): void {
    if (client.running === 0 && client.waiting === 0) net.clients.delete(client.key)
    if (net.running === 0 && net.waiting === 0) networks.delete(net.key)
  }

  function finished (net: Network, client: Client): void {
    running--
    net.running--
    client.running--
    tidy(net, client)
    next()
  }

  /** The queue is full: the network with most waiting loses the newest fetch of its client holding most. */
  function pushOut (): void {
    const net = holdingMost(networks.values(), false)
    const client = net === undefined ? undefined : holdingMost(net.clients.values(), true)
    if (net === undefined || client === undefined) return
    const task = dequeue(net, client, true)
    if (task === undefined) return
    tidy(net, client)
    task.refuse()
  }

  return {
    run (origin, job) {
      let net = networks.get(origin.network)
      if (net === undefined) networks.set(origin.network, net = { key: origin.network, running: 0, waiting: 0, clients: new Map() })
      let client = net.clients.get(origin.client)
      if (client === undefined) net.clients.set(origin.client, client = { key: origin.client, running: 0, waiting: 0, tasks: [] })
      if (client.running + client.waiting >= limits.perClient) return Promise.resolve('busy' as const)
      const n = net
      const c = client
      return new Promise((resolve, reject) => {
        c.tasks.push({
          start: () => { job().then(resolve, reject).finally(() => finished(n, c)) },
          refuse: () => resolve('busy')
        })
        c.waiting++
        n.waiting++
        waiting++
        if (waiting > limits.waiting) pushOut()
        next()
      })
    }
  }
}
