// Parses --master values (a host name or an http/https base URL) into what redirects and proxying use.
import { ConfigError } from './error.js'
import { normalizeHostName } from '../core/host.js'

export interface Master {
  /** Base URL without a trailing slash, e.g. http://www.example.com */
  readonly url: string
  /** Lower-case host name, as compared against Host headers. */
  readonly host: string
}

export function parseMaster (value: string): Master {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new ConfigError('master', `"${value}" is neither a host name nor a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('master', `"${value}" must be http:// or https://`)
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError('master', `"${value}" must not carry credentials, a query or a fragment`)
  }
  const host = normalizeHostName(url.hostname)
  if (host === undefined) throw new ConfigError('master', `"${value}" has an invalid host name`)
  const path = url.pathname.replace(/\/+$/, '')
  return Object.freeze({ url: `${url.protocol}//${url.host}${path}`, host })
}
