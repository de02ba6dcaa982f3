// Tells, while still root, which files the dropped account will not be able to read on a reload.
import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Account } from './privileges.js'

const R = 4
const X = 1

/** Whether mode bits grant `bits` to a process with exactly this uid and one group. */
export function permits (st: { mode: number, uid: number, gid: number }, uid: number, gid: number, bits: number): boolean {
  if (uid === 0) return true
  const shift = st.uid === uid ? 6 : st.gid === gid ? 3 : 0
  return ((st.mode >> shift) & bits) === bits
}

export interface Unreadable { readonly file: string, readonly why: string }

async function check (path: string, uid: number, gid: number): Promise<string | undefined> {
  const abs = resolve(path)
  const st = await stat(abs).catch(() => undefined)
  // A missing file is reported by whoever needs it; here only permissions matter.
  if (st === undefined) return undefined
  for (let d = dirname(abs); ; d = dirname(d)) {
    const ds = await stat(d).catch(() => undefined)
    if (ds !== undefined && !permits(ds, uid, gid, X)) return `directory ${d} is not searchable`
    if (dirname(d) === d) break
  }
  const need = st.isDirectory() ? R | X : R
  return permits(st, uid, gid, need) ? undefined : `mode ${(st.mode & 0o777).toString(8)}, owner ${st.uid}:${st.gid}`
}

export async function unreadableAfterDrop (a: Account, files: ReadonlyArray<string | undefined>): Promise<Unreadable[]> {
  if (process.getuid?.() !== 0 || a.gid === undefined) return []
  const out: Unreadable[] = []
  for (const file of files) {
    if (file === undefined) continue
    const why = await check(file, a.uid ?? 0, a.gid)
    if (why !== undefined) out.push({ file, why })
  }
  return out
}
