// Opens the log file safely: never through a symlink or a hard link, never a FIFO, handed over by descriptor.
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, openSync } from 'node:fs'
import { ConfigError } from '../config/error.js'

// O_NOFOLLOW: a symlink planted where the log goes must not make root append to (or chown) its target.
// O_NONBLOCK: a FIFO planted there must not hang the start waiting for a reader.
const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK

function why (err: NodeJS.ErrnoException): string {
  // Linux says ELOOP for O_NOFOLLOW on a symlink, FreeBSD says EMLINK.
  if (err.code === 'ELOOP' || err.code === 'EMLINK') return 'is a symbolic link'
  if (err.code === 'ENXIO') return 'is a FIFO or socket without a reader'
  return err.code ?? err.message
}

/**
 * Opens (creating with mode 0640) and returns the descriptor. When an owner is given (root at start,
 * about to drop to --user), the descriptor is chowned, not the path, so nothing can be swapped in between.
 */
export function openLogFile (file: string, owner?: { uid: number | undefined, gid: number | undefined }): number {
  let fd: number
  try {
    fd = openSync(file, FLAGS, 0o640)
  } catch (err) {
    throw new ConfigError('log-file', `cannot open ${file}: ${why(err as NodeJS.ErrnoException)}`)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new ConfigError('log-file', `${file} is not a regular file`)
    // A hard link to another file (a user's link to /etc/master.passwd) would hand that file over.
    if (st.nlink > 1) throw new ConfigError('log-file', `${file} has ${st.nlink} hard links`)
    // A file another user created in advance (a world-writable sticky directory, on a kernel without
    // fs.protected_regular: FreeBSD has none) stays open to its creator through a descriptor of its own.
    const self = process.getuid?.()
    if (st.uid !== 0 && st.uid !== self && st.uid !== owner?.uid) throw new ConfigError('log-file', `${file} is owned by uid ${st.uid}, not root or the service user: someone else created it`)
    if (owner !== undefined && owner.uid !== undefined && self === 0) fchownSync(fd, owner.uid, owner.gid ?? -1)
    // Client addresses and tokens are for the service and its group to read: no group write, nothing for others.
    if ((st.mode & 0o027) !== 0 && (self === 0 || st.uid === self)) fchmodSync(fd, st.mode & 0o7750)
    return fd
  } catch (err) {
    closeSync(fd)
    throw err
  }
}
