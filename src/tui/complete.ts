/**
 * Path completion for the add prompt, like a shell's Tab: complete the last path segment to the
 * longest common prefix of the matching entries; a single directory match gets a trailing '/'.
 * `~` means the home folder. Reads one directory (local disk, async).
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

/** What a completion gives back: the new value and the candidates to show (at most 8 names). */
export interface Completion {
  value: string
  candidates: string[]
}

/** Expand a leading "~" and resolve against `cwd`. */
export function expandPath(p: string, cwd = process.cwd(), home = os.homedir()): string {
  const t = p.trim()
  const h = t === '~' ? home : t.startsWith('~/') ? path.join(home, t.slice(2)) : t
  return path.resolve(cwd, h)
}

/** Longest common prefix of some strings. */
export function commonPrefix(xs: string[]): string {
  if (!xs.length) return ''
  let p = xs[0] as string
  for (const x of xs) while (!x.startsWith(p)) p = p.slice(0, -1)
  return p
}

/** Complete `value` (a path as typed). Unreadable folders complete to nothing. */
export async function completePath(value: string, cwd = process.cwd(), home = os.homedir()): Promise<Completion> {
  const slash = value.lastIndexOf('/')
  const dirTyped = slash >= 0 ? value.slice(0, slash + 1) : ''
  const base = slash >= 0 ? value.slice(slash + 1) : value
  const dir = expandPath(dirTyped || '.', cwd, home)
  let entries: Array<{ name: string; dir: boolean }>
  try {
    entries = (await fs.readdir(dir, { withFileTypes: true }))
      .filter((e) => e.name.startsWith(base) && (base.startsWith('.') || !e.name.startsWith('.')))
      .map((e) => ({ name: e.name, dir: e.isDirectory() || e.isSymbolicLink() }))
      .sort((a, b) => a.name.localeCompare(b.name))
  } catch {
    return { value, candidates: [] }
  }
  if (!entries.length) return { value, candidates: [] }
  if (entries.length === 1) {
    const e = entries[0] as { name: string; dir: boolean }
    let isDir = e.dir
    if (isDir)
      isDir = await fs.stat(path.join(dir, e.name)).then(
        (s) => s.isDirectory(),
        () => false
      )
    return { value: dirTyped + e.name + (isDir ? '/' : ''), candidates: [] }
  }
  const names = entries.map((e) => e.name)
  return { value: dirTyped + commonPrefix(names), candidates: names.slice(0, 8).map((n, i) => (i === 7 && names.length > 8 ? `... +${names.length - 7}` : n)) }
}
