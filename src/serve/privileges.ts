// Resolves --user/--group without PATH, drops root after the bind, and proves the drop took.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'

export class PrivilegeError extends Error {
  readonly exitCode = 1
}

/** Who the process becomes: resolved once, at start, while the databases are still reachable. */
export interface Account {
  readonly user: string | undefined
  readonly uid: number | undefined
  readonly gid: number | undefined
}

// An absolute path: a PATH without getent (a bare service environment) must not leave the group at 0.
const GETENT = ['/usr/bin/getent', '/bin/getent']
/** NSS can hang on an unreachable LDAP server; start-up must not. */
const GETENT_TIMEOUT_MS = 5000

type Db = 'passwd' | 'group'

/** A passwd or group entry's fields, from getent (sees NIS/LDAP) or else the local file. */
function entry (db: Db, name: string): string[] | undefined {
  const getent = GETENT.find((p) => existsSync(p))
  if (getent !== undefined) {
    try {
      const line = execFileSync(getent, [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: GETENT_TIMEOUT_MS })
      return line.split('\n')[0]?.split(':')
    } catch (err) {
      // Exit status 2 is getent's "no such entry": a definite answer. Anything else (timeout, NSS failure) is not.
      if ((err as { status?: number }).status === 2) return undefined
      throw new PrivilegeError(`cannot look up ${db === 'passwd' ? 'user' : 'group'} ${name}: ${getent} failed (${(err as Error).message.split('\n')[0] ?? ''})`)
    }
  }
  let text: string
  try {
    text = readFileSync(`/etc/${db}`, 'utf8')
  } catch (err) {
    throw new PrivilegeError(`cannot look up ${name}: no getent and /etc/${db} unreadable (${(err as NodeJS.ErrnoException).code ?? ''})`)
  }
  const numeric = /^\d+$/.test(name)
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f[0] === name || (numeric && f[2] === name)) return f
  }
  return undefined
}

function id (field: string | undefined): number | undefined {
  const n = Number(field)
  return field !== undefined && field !== '' && Number.isInteger(n) && n >= 0 ? n : undefined
}

/** Looks up --user and --group; an unknown one is an error (exit 1), never a silent half-drop. */
export function resolveAccount (user: string | undefined, group: string | undefined): Account {
  if (user === undefined && group === undefined) return { user, uid: undefined, gid: undefined }
  let uid: number | undefined
  let gid: number | undefined
  if (user !== undefined) {
    const pw = entry('passwd', user)
    uid = id(pw?.[2])
    if (uid === undefined) throw new PrivilegeError(`unknown user ${user}`)
    gid = id(pw?.[3])
  }
  if (group !== undefined) {
    const gr = entry('group', group)
    gid = id(gr?.[2])
    if (gid === undefined) throw new PrivilegeError(`unknown group ${group}`)
  }
  if (gid === undefined) throw new PrivilegeError(`user ${user ?? ''} has no primary group: give --group`)
  return { user, uid, gid }
}

/** Switches to the account: one group only, then the user; then checks every id the kernel reports. */
export function dropPrivileges (a: Account): void {
  if (a.gid === undefined) return
  if (process.setuid === undefined || process.setgid === undefined || process.getuid === undefined || process.getgid === undefined) {
    throw new PrivilegeError('cannot switch user or group on this platform')
  }
  const root = process.getuid() === 0
  try {
    // Only the one group: root's supplementary groups must not survive the drop.
    if (root && process.setgroups !== undefined) process.setgroups([a.gid])
    process.setgid(a.gid)
    if (a.uid !== undefined) process.setuid(a.uid)
  } catch (err) {
    throw new PrivilegeError(`cannot switch to user ${a.user ?? '-'} group ${a.gid}: ${(err as Error).message}`)
  }
  // A half-done drop is worse than none: refuse to serve unless every id is what was asked.
  const groups = process.getgroups?.() ?? []
  const wrong = [
    a.uid !== undefined && (process.getuid() !== a.uid || process.geteuid?.() !== a.uid) ? `uid ${process.getuid()}` : '',
    process.getgid() !== a.gid || process.getegid?.() !== a.gid ? `gid ${process.getgid()}` : '',
    root && groups.some((g) => g !== a.gid) ? `groups ${groups.join(',')}` : ''
  ].filter((w) => w !== '')
  if (wrong.length > 0) throw new PrivilegeError(`privileges not dropped as asked (${wrong.join(', ')})`)
}
