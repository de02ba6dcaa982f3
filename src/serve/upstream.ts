// Reading undici answers, shared by proxy mode and check: a body read up to a cap, and why a request failed.
import type { Dispatcher } from 'undici'

/**
 * Reads at most max + 1 bytes (enough to tell "too big" from "fits"); leaving the loop early destroys
 * the stream, so nothing past that is ever buffered.
 */
export async function readUpTo (body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk as Buffer)
    size += (chunk as Buffer).length
    if (size > max) break
  }
  return Buffer.concat(chunks).subarray(0, max + 1)
}

/** 'TIMEOUT' for every kind of timeout (abort signal, undici's own), else the system error code. */
export function failureCode (err: unknown): string | undefined {
  const e = err as { code?: string, name?: string, cause?: { code?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(e.code ?? '')) return 'TIMEOUT'
  return e.cause?.code ?? e.code
}
