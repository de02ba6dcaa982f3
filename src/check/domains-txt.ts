// Reads dehydrated's domains.txt (one certificate per line, "> alias", # comments) and its PROFILE settings.
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export interface Certificate {
  /** The names, lower-cased, in order. */
  readonly names: string[]
  /** dehydrated's name for the certificate: the alias, else the first name. */
  readonly name: string
}

export function parseCertificates (text: string): Certificate[] {
  const certs: Certificate[] = []
  for (const line of text.split('\n')) {
    const [content = '', alias = ''] = (line.split('#')[0] ?? '').split('>')
    const names = [...new Set(content.trim().split(/\s+/).filter((n) => n !== '').map((n) => n.toLowerCase()))]
    if (names.length > 0) certs.push({ names, name: alias.trim() !== '' ? alias.trim() : names[0] ?? '' })
  }
  return certs
}

/** Every name of the file once, in order. */
export function parseDomainsTxt (text: string): string[] {
  return [...new Set(parseCertificates(text).flatMap((c) => c.names))]
}

/** The PROFILE a dehydrated config file (shell assignments) sets, if any. */
export function profileIn (text: string): string | undefined {
  let found: string | undefined
  for (const m of text.matchAll(/^\s*(?:export\s+)?PROFILE=(["']?)([A-Za-z0-9_.-]*)\1\s*(?:#.*)?$/gm)) found = m[2]
  return found === '' ? undefined : found
}

const read = (file: string): Promise<string | undefined> => readFile(file, 'utf8').then((t) => t, () => undefined)

/**
 * Where dehydrated would take a certificate's profile from, next to the domains.txt: the
 * per-certificate config (domains.d/<name>, certs/<name>/config), else the main config.
 */
export async function dehydratedProfiles (domainsTxt: string, certs: readonly Certificate[]): Promise<{ main: string | undefined, perCert: Map<string, string> }> {
  const base = dirname(domainsTxt)
  const mainText = await read(join(base, 'config'))
  const perCert = new Map<string, string>()
  for (const c of certs) {
    for (const file of [join(base, 'domains.d', c.name), join(base, 'certs', c.name, 'config')]) {
      const p = profileIn(await read(file) ?? '')
      if (p !== undefined) perCert.set(c.name, p)
    }
  }
  return { main: mainText === undefined ? undefined : profileIn(mainText), perCert }
}
