// Reads the files a reload rereads (config, maintenance page, account key) as token files are read: never
// through a symlink or a hard link, never blocking on a FIFO, never more than a cap.
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'

// O_NOFOLLOW: a symlink planted in the page's directory would serve whatever root or the service user can
// read (its own log) to the world. O_NONBLOCK: a FIFO would hang the reload, and with it the shutdown.
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY

/** Why a file was refused, worded to follow its name: "/etc/x.json is a FIFO". */
export class FileRefused extends Error {}

function openFailure (err: NodeJS.ErrnoException): string {
  // Linux says ELOOP for O_NOFOLLOW on a symlink, FreeBSD says EMLINK.
  if (err.code === 'ELOOP' || err.code === 'EMLINK') return 'is a symbolic link (name the file itself)'
  if (err.code === 'ENXIO') return 'is a socket or device'
  return `cannot be read: ${err.code ?? err.message}`
}

/** The file's bytes, or a FileRefused saying why not. */
export async function readSmallFile (file: string, maxBytes: number): Promise<Buffer> {
  let handle
  try {
    handle = await open(file, FLAGS)
  } catch (err) {
    throw new FileRefused(openFailure(err as NodeJS.ErrnoException))
  }
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw new FileRefused(st.isFIFO() ? 'is a FIFO' : st.isDirectory() ? 'is a directory' : 'is not a regular file')
    // A hard link lets whoever can write the directory present a file they cannot read (FreeBSD allows it
    // by default: security.bsd.hardlink_check_uid=0).
    if (st.nlink > 1) throw new FileRefused(`has ${st.nlink} hard links`)
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
