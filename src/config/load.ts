// Loads the Config: flags over ACME_RESPONDER_* variables over the JSON file over defaults. The only env reader.
import { stat } from 'node:fs/promises'
import { buildConfig, ConfigError, type Config } from './config.js'
import { readOptionFile } from './small-file.js'
import { envName, OPTION_NAMES, OPTIONS, optionFromKey, type RawOptions } from './options.js'

export function envOptions (env: NodeJS.ProcessEnv): RawOptions {
  const raw: RawOptions = {}
  for (const name of OPTION_NAMES) {
    const v = env[envName(name)]
    // An empty variable is passed on, and refused like an empty flag: it is a mistake, not "unset".
    if (v !== undefined && !('cliOnly' in OPTIONS[name])) raw[name] = v
  }
  return raw
}

/** A config file is a page of JSON; anything near this size is a mistake or a planted file. */
const MAX_CONFIG = 1024 * 1024

export async function fileOptions (file: string): Promise<RawOptions> {
  const text = (await readOptionFile('config', file, MAX_CONFIG)).toString('utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('config', `${file}: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('config', `${file}: must hold one JSON object`)
  }
  const raw: RawOptions = {}
  for (const [key, value] of Object.entries(parsed)) {
    const name = optionFromKey(key)
    if (name === undefined || 'cliOnly' in OPTIONS[name]) throw new ConfigError('config', `${file}: unknown option "${key}"`)
    if (value === null) continue
    if (typeof value === 'object' && !Array.isArray(value)) throw new ConfigError(name, `${file}: must be a string, number or list`)
    raw[name] = Array.isArray(value) ? value.map(String) : value as string | number | boolean
  }
  return raw
}

/** node:crypto loads only when an account key is configured: a few ms of every start otherwise. */
async function thumbprintOf (keyFile: string): Promise<string> {
  const { thumbprintFromKeyFile } = await import('./thumbprint.js')
  return await thumbprintFromKeyFile(keyFile)
}

export interface Sources {
  readonly flags: RawOptions
  readonly env: NodeJS.ProcessEnv
  readonly platform: string
}

/**
 * Reads every source afresh, so SIGHUP sees a changed file; the account key only when it is not in
 * `keys` (path → thumbprint), as after the privilege drop a root-only key cannot be read again.
 */
export async function loadConfig (src: Sources, keys: ReadonlyMap<string, string> = new Map()): Promise<Config> {
  const fromEnv = envOptions(src.env)
  const file = src.flags.config as string | undefined
  const fromFile = file === undefined ? {} : await fileOptions(file)
  const raw: RawOptions = { ...fromFile, ...fromEnv, ...src.flags }
  const keyFile = raw['account-key']
  const keyThumbprint = typeof keyFile === 'string' && keyFile.trim() !== '' ? keys.get(keyFile) ?? await thumbprintOf(keyFile) : undefined
  const config = buildConfig(raw, src.platform, keyThumbprint)
  const dir = await stat(config.challengeDir).catch(() => undefined)
  if (dir !== undefined && !dir.isDirectory()) throw new ConfigError('challenge-dir', `${config.challengeDir} is not a directory`)
  return config
}
