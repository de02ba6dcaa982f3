// Token lookup, never following a link or blocking: synchronous lstat + a content cache on local file
// systems, the asynchronous reader where a call could hang (NFS, SMB, FUSE).
import { closeSync, fstatSync, lstatSync, openSync, readSync, statfsSync, type Stats } from 'node:fs'
import { open } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'
import type { Lookup } from '../core/outcome.js'
import { isSymlinkRefusal, SAFE_OPEN_FLAGS, typeProblem } from '../config/small-file.js'

/** A lookup's result is the core's Lookup: found, missing, or there but unusable. */
export type TokenRead = Lookup

const MISSING: TokenRead = Object.freeze({ kind: 'missing' })

function openError (err: NodeJS.ErrnoException): string | undefined {
  if (isSymlinkRefusal(err)) return 'is a symbolic link'
  switch (err.code) {
    case 'ENOENT': case 'ENOTDIR': return undefined
    case 'ENXIO': return 'is a socket or device'
    case 'EACCES': case 'EPERM': return 'is not readable'
    default: return err.code ?? err.message
  }
}

/** An open()/lstat() failure as a lookup result: a missing file, or one that is there but unusable. */
function fromOpenError (err: unknown, file: string): TokenRead {
  const why = openError(err as NodeJS.ErrnoException)
  return why === undefined ? MISSING : { kind: 'unusable', file, why }
}

/** Why stat data rules a file out (type or size), or undefined when it may be read. */
function statProblem (st: Stats, maxSize: number): string | undefined {
  const problem = typeProblem(st)
  if (problem !== undefined) return problem
  return st.size > maxSize ? `is ${st.size} bytes, over the ${maxSize}-byte cap` : undefined
}

/** A buffer of maxSize + 1 bytes: reading one byte more than allowed catches a file that grew since stat. */
const readBuffer = (maxSize: number): Buffer => Buffer.allocUnsafeSlow(maxSize + 1)

function readResult (buf: Buffer, bytesRead: number, file: string, maxSize: number): TokenRead {
  if (bytesRead > maxSize) return { kind: 'unusable', file, why: `is over the ${maxSize}-byte cap` }
  return { kind: 'found', body: Buffer.from(buf.subarray(0, bytesRead)) }
}

/** The token has been validated against the token pattern before this is called. */
async function readTokenFile (dir: string, token: string, maxSize: number): Promise<TokenRead> {
  const file = join(dir, token)
  let handle
  try {
    // O_NOFOLLOW refuses a symlink at the last component; O_NONBLOCK keeps open() of a FIFO from waiting
    // for a writer. The directory itself may be a symlink (operators do that), only the token may not.
    handle = await open(file, SAFE_OPEN_FLAGS)
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

export interface TokenStore {
  /** Synchronous where the file system allows it; a Promise where a call could hang (NFS). */
  lookup (token: string): TokenRead | Promise<TokenRead>
  readonly sync: boolean
}

/** Linux statfs magic numbers of file systems whose lstat cannot hang on a remote server. */
const LOCAL_FS = new Set([0xEF53, 0x58465342, 0x9123683E, 0x01021994, 0x2FC12FC1, 0x794C7630, 0x858458F6, 0xF2F52010, 0x3153464A])

/** Whether the directory (or its nearest existing ancestor) is on a known local file system. */
export function isLocalFileSystem (dir: string, platform: string): boolean {
  if (platform !== 'linux') return false
  for (let d = dir; ; d = dirname(d)) {
    try {
      return LOCAL_FS.has(statfsSync(d).type)
    } catch {
      if (dirname(d) === d) return false
    }
  }
}

interface Cached { readonly ino: number, readonly size: number, readonly mtimeMs: number, readonly ctimeMs: number, readonly found: TokenRead }

/** Tokens live for seconds; the CA's validators ask a handful of times each. A small bound is plenty. */
const MAX_CACHED = 1024
/**
 * File times come from a coarse clock (one jiffy, up to 10 ms): two same-size writes within one tick
 * leave identical stat data. Content is cached only once its ctime is older than this, so any later
 * change is bound to show a different ctime.
 */
const SETTLED_MS = 50

function readSyncSafe (file: string, st: Stats, maxSize: number): TokenRead {
  let fd: number
  try {
    fd = openSync(file, SAFE_OPEN_FLAGS)
  } catch (err) {
    return fromOpenError(err, file)
  }
  try {
    // The file may have been replaced between lstat and open: judge what was opened.
    const fst = fstatSync(fd)
    const problem = statProblem(fst, maxSize)
    if (problem !== undefined) return { kind: 'unusable', file, why: problem }
    if (fst.ino !== st.ino) return MISSING
    const buf = readBuffer(maxSize)
    return readResult(buf, readSync(fd, buf, 0, maxSize + 1, 0), file, maxSize)
  } finally {
    closeSync(fd)
  }
}

const NO_THROW = Object.freeze({ throwIfNoEntry: false })

export function createTokenStore (dir: string, maxSize: number, local: boolean): TokenStore {
  if (!local) return { sync: false, lookup: (token) => readTokenFile(dir, token, maxSize) }
  const cache = new Map<string, Cached>()
  // A token is base64url (no dot, no slash): appending it to the normalised directory is what join()
  // would give, without join()'s normalising pass over the whole path on every request.
  const base = join(dir, sep)
  return {
    sync: true,
    lookup (token) {
      const file = base + token
      let st: Stats | undefined
      try {
        // One lstat per request keeps the promise: a written token is seen at once, a removed one never again.
        st = lstatSync(file, NO_THROW)
      } catch (err) {
        return fromOpenError(err, file)
      }
      if (st === undefined) {
        if (cache.size !== 0) cache.delete(token)
        return MISSING
      }
      const problem = statProblem(st, maxSize)
      if (problem !== undefined) return { kind: 'unusable', file, why: problem }
      const hit = cache.get(token)
      if (hit !== undefined && hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs) return hit.found
      const found = readSyncSafe(file, st, maxSize)
      if (found.kind === 'found' && found.body.length === st.size && Date.now() - st.ctimeMs > SETTLED_MS) {
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string)
        cache.set(token, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, found })
      }
      return found
    }
  }
}
