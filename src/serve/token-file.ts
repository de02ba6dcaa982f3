// Reads one token file safely: no symlinks, no FIFOs or devices, nothing over the size cap, never blocking.
import { constants, type Stats } from 'node:fs'
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

/** An open()/lstat() failure as a lookup result: a missing file, or one that is there but unusable. */
export function fromOpenError (err: unknown, file: string): TokenRead {
  const why = openError(err as NodeJS.ErrnoException)
  return why === undefined ? { kind: 'missing' } : { kind: 'unusable', file, why }
}

/** Why stat data rules a file out (type or size), or undefined when it may be read. */
export function statProblem (st: Stats, maxSize: number): string | undefined {
  if (!st.isFile()) {
    if (st.isSymbolicLink()) return 'is a symbolic link'
    if (st.isDirectory()) return 'is a directory'
    if (st.isFIFO()) return 'is a FIFO'
    return st.isSocket() ? 'is a socket or device' : 'is not a regular file'
  }
  // A hard link lets whoever can write the challenge directory serve a file they cannot read
  // (FreeBSD with security.bsd.hardlink_check_uid=0, Linux without protected_hardlinks).
  if (st.nlink > 1) return `has ${st.nlink} hard links`
  return st.size > maxSize ? `is ${st.size} bytes, over the ${maxSize}-byte cap` : undefined
}

/** A buffer of maxSize + 1 bytes: reading one byte more than allowed catches a file that grew since stat. */
export const readBuffer = (maxSize: number): Buffer => Buffer.allocUnsafeSlow(maxSize + 1)

export function readResult (buf: Buffer, bytesRead: number, file: string, maxSize: number): TokenRead {
  if (bytesRead > maxSize) return { kind: 'unusable', file, why: `is over the ${maxSize}-byte cap` }
  return { kind: 'found', body: Buffer.from(buf.subarray(0, bytesRead)) }
}

/** The token has been validated against the token pattern before this is called. */
export async function readTokenFile (dir: string, token: string, maxSize: number): Promise<TokenRead> {
  const file = join(dir, token)
  let handle
  try {
    handle = await open(file, OPEN_FLAGS)
  } catch (err) {
    return fromOpenError(err, file)
  }
  try {
    const problem = statProblem(await handle.stat(), maxSize)
    if (problem !== undefined) return { kind: 'unusable', file, why: problem }
    const buf = readBuffer(maxSize)
    const { bytesRead } = await handle.read(buf, 0, maxSize + 1, 0)
    return readResult(buf, bytesRead, file, maxSize)
  } catch (err) {
    return { kind: 'unusable', file, why: (err as NodeJS.ErrnoException).code ?? String(err) }
  } finally {
    await handle.close().catch(() => {})
  }
}
