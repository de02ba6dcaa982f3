// Reads one token file safely: no symlinks, no FIFOs or devices, nothing over the size cap, never blocking.
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'

export type TokenRead =
  | { readonly kind: 'found', readonly body: Buffer }
  | { readonly kind: 'missing' }
  | { readonly kind: 'unusable', readonly file: string, readonly why: string }

// O_NOFOLLOW refuses a symlink at the last component; O_NONBLOCK keeps open() of a FIFO from waiting
// for a writer. The directory itself may be a symlink (operators do that), only the token may not.
export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY

export function openError (err: NodeJS.ErrnoException): string | undefined {
  switch (err.code) {
    case 'ENOENT': case 'ENOTDIR': return undefined
    // Linux says ELOOP for O_NOFOLLOW on a symlink, FreeBSD says EMLINK.
    case 'ELOOP': case 'EMLINK': return 'is a symbolic link'
    case 'ENXIO': return 'is a socket or device'
    case 'EACCES': case 'EPERM': return 'is not readable'
    default: return err.code ?? err.message
  }
}

/** The token has been validated against the token pattern before this is called. */
export async function readTokenFile (dir: string, token: string, maxSize: number): Promise<TokenRead> {
  const file = join(dir, token)
  let handle
  try {
    handle = await open(file, OPEN_FLAGS)
  } catch (err) {
    const why = openError(err as NodeJS.ErrnoException)
    return why === undefined ? { kind: 'missing' } : { kind: 'unusable', file, why }
  }
  try {
    const st = await handle.stat()
    if (!st.isFile()) {
      const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'not a regular file'
      return { kind: 'unusable', file, why: `is ${what}` }
    }
    if (st.size > maxSize) return { kind: 'unusable', file, why: `is ${st.size} bytes, over the ${maxSize}-byte cap` }
    // Read one byte more than allowed: a file that grew since fstat() is still caught.
    const buf = Buffer.allocUnsafe(maxSize + 1)
    const { bytesRead } = await handle.read(buf, 0, maxSize + 1, 0)
    if (bytesRead > maxSize) return { kind: 'unusable', file, why: `is over the ${maxSize}-byte cap` }
    return { kind: 'found', body: Buffer.from(buf.subarray(0, bytesRead)) }
  } catch (err) {
    return { kind: 'unusable', file, why: (err as NodeJS.ErrnoException).code ?? String(err) }
  } finally {
    await handle.close().catch(() => {})
  }
}
