// A real ACME CA for the end-to-end test: Debian's pebble, with pebble-challtestsrv as its DNS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '../helpers.js'
import { freePort } from '../ports.js'

export interface Ca {
  readonly directory: string
  /** Trust anchor for the CA's own HTTPS endpoint (clients need it). */
  readonly tlsRoot: string
  readonly dir: string
  addA (name: string, address: string): Promise<void>
  /** Pebble's issuing root, fetched from its management API. */
  issuingRoot (): Promise<string>
  log (): string
  stop (): void
}

function openssl (args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' })
}

export async function startCa (dir: string, defaultIPv4: string): Promise<Ca> {
  // A private root and a leaf for 127.0.0.1: pebble serves its API over HTTPS only.
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-days', '2', '-subj', '/CN=acme-responder e2e root'], dir)
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'wfe.key', '-out', 'wfe.csr', '-subj', '/CN=localhost'], dir)
  writeFileSync(join(dir, 'wfe.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
  openssl(['x509', '-req', '-in', 'wfe.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'wfe.pem', '-days', '2', '-extfile', 'wfe.ext'], dir)
  const [api, mgmt, dns, dnsMgmt] = [await freePort(), await freePort(), await freePort(), await freePort()]
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${api}`,
      managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: join(dir, 'wfe.pem'),
      privateKey: join(dir, 'wfe.key'),
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: '',
      externalAccountBindingRequired: false
    }
  }))
  let output = ''
  const collect = (p: ChildProcess, name: string): ChildProcess => {
    p.stdout?.on('data', (c: Buffer) => { output += `[${name}] ${c.toString()}` })
    p.stderr?.on('data', (c: Buffer) => { output += `[${name}] ${c.toString()}` })
    return p
  }
  const cts = collect(spawn('pebble-challtestsrv', ['-defaultIPv4', defaultIPv4, '-defaultIPv6', '', '-dns01', `127.0.0.1:${dns}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsMgmt}`]), 'dns')
  // No random sleeps, no rejected nonces, no reused authorizations: every order is validated for real.
  const pebble = collect(spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns}`], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' }
  }), 'pebble')
  const stop = (): void => { pebble.kill('SIGKILL'); cts.kill('SIGKILL') }
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${dnsMgmt}/`).catch(() => undefined)) !== undefined, 'pebble-challtestsrv')
    await waitFor(() => output.includes('Listening on'), 'pebble')
  } catch (err) {
    stop()
    throw new Error(`${(err as Error).message}\n${output}`)
  }
  return {
    directory: `https://127.0.0.1:${api}/dir`,
    tlsRoot: join(dir, 'root.pem'),
    dir,
    async addA (name, address) {
      const res = await fetch(`http://127.0.0.1:${dnsMgmt}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${name}.`, addresses: [address] }) })
      if (!res.ok) throw new Error(`add-a ${name}: ${res.status}`)
    },
    issuingRoot () {
      // Node's fetch has no per-request CA option; ask curl, which the clients use anyway.
      return Promise.resolve(execFileSync('curl', ['-sS', '--cacert', join(dir, 'root.pem'), `https://127.0.0.1:${mgmt}/roots/0`], { encoding: 'utf8' }))
    },
    log: () => output,
    stop
  }
}
