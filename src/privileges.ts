// Drops root after the listeners are bound and before the first request is served.
import { execFileSync } from 'node:child_process'
import { chownSync } from 'node:fs'

export class PrivilegeError extends Error {
  readonly exitCode = 1
}

/** A numeric field of a passwd or group entry (getent also sees NIS/LDAP users). */
function getent (db: 'passwd' | 'group', name: string, field: number): number | undefined {
  if (/^\d+$/.test(name) && field === 2) return Number(name)
  try {
    const line = execFileSync('getent', [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const id = Number(line.split(':')[field])
    return Number.isInteger(id) ? id : undefined
  } catch {
    return undefined
  }
}

const primaryGroup = (user: string): number | undefined => getent('passwd', user, 3)

/**
 * Hands a file created as root (the log) to the user the process will become, so that reopening it
 * after SIGHUP still works once root is gone.
 */
export function giveTo (file: string, user: string | undefined, group: string | undefined): void {
  if (user === undefined || process.getuid?.() !== 0) return
  const uid = getent('passwd', user, 2)
  const gid = group === undefined ? primaryGroup(user) : getent('group', group, 2)
  if (uid !== undefined) chownSync(file, uid, gid ?? -1)
}

export function dropPrivileges (user: string | undefined, group: string | undefined): void {
  if (user === undefined && group === undefined) return
  if (process.setuid === undefined || process.setgid === undefined || process.getuid === undefined) {
    throw new PrivilegeError('cannot switch user or group on this platform')
  }
  try {
    const gid = group ?? (user === undefined ? undefined : primaryGroup(user))
    if (gid !== undefined) {
      // Only the one group: root's supplementary groups must not survive the drop.
      if (process.getuid() === 0 && process.setgroups !== undefined) process.setgroups([gid])
      process.setgid(gid)
    }
    if (user !== undefined) process.setuid(user)
  } catch (err) {
    throw new PrivilegeError(`cannot switch to user ${user ?? '-'} group ${group ?? '-'}: ${(err as Error).message}`)
  }
  // Refuse to go on as root when asked not to be root: a half-done drop is worse than none.
  if (user !== undefined && process.getuid() === 0 && user !== 'root' && user !== '0') {
    throw new PrivilegeError(`still running as root after switching to ${user}`)
  }
}
