// Reads dehydrated's domains.txt: one certificate per line, names separated by spaces, "> alias", # comments.

/** The names of each certificate, one list per line, lower-cased. */
export function parseCertificates (text: string): string[][] {
  const certs: string[][] = []
  for (const line of text.split('\n')) {
    const content = (line.split('#')[0] ?? '').split('>')[0] ?? ''
    const names = content.trim().split(/\s+/).filter((n) => n !== '').map((n) => n.toLowerCase())
    if (names.length > 0) certs.push([...new Set(names)])
  }
  return certs
}

/** Every name of the file once, in order. */
export function parseDomainsTxt (text: string): string[] {
  return [...new Set(parseCertificates(text).flat())]
}
