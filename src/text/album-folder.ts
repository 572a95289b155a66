/**
 * Where a fetched file goes below the downloads folder (issue 12: "Albums keep their folder when
 * fetched"): shared by the CLI (`fetch`, the `fetch --play` queue, `search`'s already-have mark)
 * and the TUI (fetch, `P` queue). Pure path text, no I/O.
 */
import path from 'node:path'

/**
 * The folder a result is saved in below the downloads folder: its name's folders (an album
 * `Artist/Album/01.ogg` → `Artist/Album`), each segment made safe (no `..`, `.`, empty, hidden or
 * control-character segment; at most 8 levels); '' for a name without a folder.
 */
export function albumFolder(name: string): string {
  const parts = name
    .split('/')
    .slice(0, -1)
    // eslint-disable-next-line no-control-regex
    .map((p) => p.replace(/[\u0000-\u001f\u007f\\]/g, '').trim())
    .filter((p) => p && p !== '.' && p !== '..' && !p.startsWith('.'))
  return parts.slice(-8).join(path.sep)
}
