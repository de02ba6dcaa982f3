// The swappable state a request is answered with: config, policy, prebuilt answers, proxy. Rebuilt on SIGHUP.
import type { Config } from '../config/config.js'
import { readOptionFile } from '../config/small-file.js'
import { policyFromConfig, type Policy } from '../core/decide.js'
import { createProxy, type Proxy } from './proxy.js'
import { buildAnswers, DEFAULT_MAINTENANCE_PAGE, type Answers } from '../core/answers.js'
import { createTokenStore, isLocalFileSystem, type TokenStore } from './token-store.js'
import { VERSION } from '../version.js'
import type { Certificates } from './certificates.js'

export interface Runtime {
  readonly config: Config
  readonly policy: Policy
  readonly answers: Answers
  readonly proxy: Proxy | undefined
  readonly tokens: TokenStore
  /** The HTTPS certificates, reread with the rest on SIGHUP; undefined without --tls-cert. */
  readonly tls: Certificates | undefined
}

/** Largest maintenance page accepted: it is held in memory and sent on every miss. */
const MAX_PAGE = 1024 * 1024

async function maintenancePage (file: string | undefined): Promise<Buffer> {
  if (file === undefined) return Buffer.from(DEFAULT_MAINTENANCE_PAGE)
  return await readOptionFile('maintenance-page', file, MAX_PAGE)
}

/** `tried` hears of every proxy fetch from a master (the metrics' counter). */
export async function buildRuntime (config: Config, tried?: (master: string, result: string) => void): Promise<Runtime> {
  const answers = buildAnswers(config, await maintenancePage(config.maintenancePage))
  // Before the proxy is made: a certificate that cannot be read fails the build with nothing to undo.
  // Loaded only with a certificate: node:tls and node:crypto are not a plain responder's to pay for.
  const tls = config.tls.length === 0 ? undefined : await (await import('./certificates.js')).loadCertificates(config.tls)
  const proxy = config.mode === 'proxy'
    ? await createProxy({
      masters: config.masters,
      timeout: config.proxyTimeout,
      budget: config.proxyBudget,
      maxSize: config.maxTokenSize,
      userAgent: `acme-responder/${VERSION}`,
      tried
    })
    : undefined
  const tokens = createTokenStore(config.challengeDir, config.maxTokenSize, isLocalFileSystem(config.challengeDir, process.platform))
  return Object.freeze({ config, policy: policyFromConfig(config), answers, proxy, tokens, tls })
}
