// Headless Chromium (Debian's) as a visitor: trusts a root through its own NSS database, maps names to
// loopback addresses, and returns the page's DOM and a screenshot.
import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** What the probe of this machine kind starts Chromium with: no sandbox as root, no calls home. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

export interface Visit { readonly dom: string, readonly screenshot: string }

function chromium (args: string[], home: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('chromium', args, { env: { ...process.env, HOME: home }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`chromium failed: ${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

/** Loads url as a visitor whose browser trusts rootPem, with `map` as its DNS (name → address). */
export async function visit (dir: string, url: string, rootPem: string, map: Readonly<Record<string, string>>, screenshot: string): Promise<Visit> {
  const home = join(dir, 'home')
  const nss = join(home, '.pki', 'nssdb')
  mkdirSync(nss, { recursive: true })
  const root = join(dir, 'root.pem')
  writeFileSync(root, rootPem)
  // Chromium on Linux takes locally added roots from the user's NSS database.
  execFileSync('certutil', ['-d', `sql:${nss}`, '-N', '--empty-password'], { stdio: 'ignore' })
  execFileSync('certutil', ['-d', `sql:${nss}`, '-A', '-t', 'C,,', '-n', 'e2e-root', '-i', root], { stdio: 'ignore' })
  const rules = `--host-resolver-rules=${Object.entries(map).map(([n, a]) => `MAP ${n} ${a}`).join(', ')}`
  const common = [...FLAGS, `--user-data-dir=${join(dir, 'profile')}`, rules]
  const dom = await chromium([...common, '--dump-dom', url], home)
  await chromium([...common, `--screenshot=${screenshot}`, '--window-size=1024,640', url], home)
  return { dom, screenshot }
}
