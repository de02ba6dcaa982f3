// Reads the files a reload rereads (config, maintenance page, TLS certificates and keys) as token files are
// read: never through a symlink or a hard link, never blocking on a FIFO, never more than a cap.
import { constants, type Stats } from 'node:fs'
import { open } from 'node:fs/promises'
import { ConfigError } from './error.js'

// O_NOFOLLOW: a symlink planted in the page's directory would serve whatever root or the service user can
// read (its own log) to the world. O_NONBLOCK: a FIFO would hang the reload, and with it the shutdown.
// The token store opens token files with the same flags.
export const SAFE_OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY

/** Linux says ELOOP for O_NOFOLLOW on a symlink, FreeBSD says EMLINK. */
export const isSymlinkRefusal = (err: NodeJS.ErrnoException): boolean => err.code === 'ELOOP' || err.code === 'EMLINK'

/** Why a file's type or links rule it out (for the token store and the files here alike), or undefined. */
export function typeProblem (st: Stats): string | undefined {
  if (!st.isFile()) {
    if (st.isSymbolicLink()) return 'is a symbolic link'
    if (st.isDirectory()) return 'is a directory'
    if (st.isFIFO()) return 'is a FIFO'
    return st.isSocket() ? 'is a socket or device' : 'is not a regular file'
  }
  // A hard link lets whoever can write the directory present a file they cannot read (FreeBSD allows it
  // by default: security.bsd.hardlink_check_uid=0; Linux without protected_hardlinks).
  return st.nlink > 1 ? `has ${st.nlink} hard links` : undefined
}

/** Why a file was refused, worded to follow its name: "/etc/x.json is a FIFO". */
export class FileRefused extends Error {}

function openFailure (err: NodeJS.ErrnoException): string {
  if (isSymlinkRefusal(err)) return 'is a symbolic link (name the file itself)'
  if (err.code === 'ENXIO') return 'is a socket or device'
  return `cannot be read: ${err.code ?? err.message}`
}

/**
 * The file's bytes, or a FileRefused saying why not. `refuse` may rule the file out on what fstat says of
 * the opened file (a key's mode): the same file that is read, with no second lookup of its name.
 */
export async function readSmallFile (file: string, maxBytes: number, refuse?: (st: Stats) => string | undefined): Promise<Buffer> {
  let handle
  try {
    handle = await open(file, SAFE_OPEN_FLAGS)
  } catch (err) {
    throw new FileRefused(openFailure(err as NodeJS.ErrnoException))
  }
  try {
    const st = await handle.stat()
    const problem = typeProblem(st) ?? refuse?.(st)
    if (problem !== undefined) throw new FileRefused(problem)
    if (st.size > maxBytes) throw new FileRefused(`is ${st.size} bytes, over ${maxBytes}`)
    // One byte more than allowed tells a file that grew since fstat.
    const buf = Buffer.alloc(maxBytes + 1)
    const { bytesRead } = await handle.read(buf, 0, maxBytes + 1, 0)
    if (bytesRead > maxBytes) throw new FileRefused(`is over ${maxBytes} bytes`)
    return buf.subarray(0, bytesRead)
  } catch (err) {
    if (err instanceof FileRefused) throw err
    throw new FileRefused(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  } finally {
    await handle.close().catch(() => {})
  }
}

/** readSmallFile for an option's file: a refusal is that option's error, naming the file and why. */
export async function readOptionFile (option: string, file: string, maxBytes: number, refuse?: (st: Stats) => string | undefined): Promise<Buffer> {
  try {
    return await readSmallFile(file, maxBytes, refuse)
  } catch (err) {
    throw new ConfigError(option, `${file} ${(err as Error).message}`)
  }
}
