// Drops root after the listeners are bound and before the first request is served.
import { execFileSync } from 'node:child_process'

export class PrivilegeError extends Error {}

/** The user's primary group from the passwd database (getent also sees NIS/LDAP users). */
function primaryGroup (user: string): number | undefined {
  try {
    const line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const gid = Number(line.split(':')[3])
    return Number.isInteger(gid) ? gid : undefined
  } catch {
    return undefined
  }
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
