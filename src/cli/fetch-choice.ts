/**
 * What `p2ptube fetch TARGET` takes (issue 12): a content id, a content id prefix of 8 or more
 * hex digits (git-style: accepted when one content matches), or a name; a name or prefix that
 * matches several different contents is listed instead of guessed. Where a file goes (an album
 * keeps its folder) and whether it is already here (same content id: no `name (1).ogg`).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { SearchResult } from '../app/node.ts'
import { hashFile } from '../node/library.ts'

/** Shortest content id prefix accepted (git's default abbreviation is 7; one more for safety). */
export const MIN_ID_PREFIX = 8

/** A content id prefix (8–63 hex digits; 64 is a whole content id). */
export function isIdPrefix(s: string): boolean {
  return new RegExp(`^[0-9a-f]{${MIN_ID_PREFIX},63}$`).test(s)
}

/** A content id shortened for display (12 hex digits, as git's log --oneline gives 7). */
export function shortId(cid: string | null | undefined): string {
  return cid ? cid.slice(0, 12) : '(legacy)'
}

/**
 * The results that can be what the user meant by `target`: with a content id or prefix, those
 * whose id starts with it; with a name, those whose name is it (whole, or below a folder), else
 * every result (the holders matched the words).
 */
export function candidates(results: readonly SearchResult[], target: string): SearchResult[] {
  if (isIdPrefix(target) || /^[0-9a-f]{64}$/.test(target)) return results.filter((r) => r.contentId?.startsWith(target))
  const exact = results.filter((r) => r.name === target || r.name.endsWith('/' + target))
  return exact.length ? exact : [...results]
}

/** One result per different content (by content id; a legacy result, without one, by name). */
export function distinctContents(results: readonly SearchResult[]): SearchResult[] {
  const seen = new Map<string, SearchResult>()
  for (const r of results) {
    const key = r.contentId ?? `legacy:${r.name}`
    if (!seen.has(key)) seen.set(key, r)
  }
  return [...seen.values()]
}

/** Where a result goes below the downloads folder (moved to text/ for the TUI; issue 12). */
export { albumFolder } from '../text/album-folder.ts'

/**
 * The path of a file already here with the content of `r` (same size, same content id) at the
 * place a fetch would save it, or null. Hashes at most that one file.
 */
export async function localCopy(dir: string, r: SearchResult): Promise<string | null> {
  if (!r.contentId || r.size === null) return null
  const file = path.join(dir, path.basename(r.name))
  const st = await fs.stat(file).catch(() => null)
  if (!st?.isFile() || st.size !== r.size) return null
  const { cid } = await hashFile(file).catch(() => ({ cid: null }))
  return cid === r.contentId ? file : null
}
