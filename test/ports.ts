// Free loopback ports for tests and the benchmark: bind port 0, note the port, let it go.
import { createServer, type AddressInfo } from 'node:net'

export async function freePort (host = '127.0.0.1'): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, host, resolve))
  const { port } = s.address() as AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}
