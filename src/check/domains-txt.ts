// Reads dehydrated's domains.txt: one certificate per line, names separated by spaces, "> alias", # comments.

export function parseDomainsTxt (text: string): string[] {
  const names: string[] = []
  for (const line of text.split('\n')) {
    const content = (line.split('#')[0] ?? '').split('>')[0] ?? ''
    for (const name of content.trim().split(/\s+/)) {
      if (name === '' || names.includes(name.toLowerCase())) continue
      names.push(name.toLowerCase())
    }
  }
  return names
}
