/**
 * The walk of a shared folder: every media file below it (recursively), links resolved, files
 * that link outside the folder refused (Syncthing rejects paths that escape the folder; so do
 * we). Hidden names and our own partial downloads are skipped.
 */
import type { Dirent } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { mediaKind } from './media-kind.ts'

/** A media file found by walkShare. `rel` is its path below the share, '/'-separated; size in bytes. */
export interface FoundFile {
  /** Absolute real path (symlinks resolved), inside the share. */
  real: string
  rel: string
  size: number
  mtimeMs: number
  dev: number
  ino: number
}

/**
 * Walk `dir` (below the share folder `root`, both real paths) depth first and call `found` for
 * each media file, in readdir order. Unreadable folders and files that vanish are skipped (the
 * folder with a warning); never throws for them.
 */
export async function walkShare(root: string, dir: string, found: (f: FoundFile) => void, log?: (level: 'warn', msg: string) => void): Promise<void> {
  let items: Dirent[]
  try {
    items = await fs.readdir(dir, { withFileTypes: true })
  } catch (err) {
    log?.('warn', `cannot read ${dir}: ${(err as Error).message}`)
    return
  }
  for (const it of items) {
    if (it.name.startsWith('.') || it.name.endsWith('.p2ptube-part') || it.name.endsWith('.p2ptube-part.json')) continue
    const full = path.join(dir, it.name)
    if (it.isDirectory()) {
      await walkShare(root, full, found, log)
    } else if ((it.isFile() || it.isSymbolicLink()) && mediaKind(it.name)) {
      let real: string
      try {
        real = await fs.realpath(full)
      } catch {
        continue
      }
      if (real !== full && !real.startsWith(root + path.sep)) {
        log?.('warn', `not sharing ${full}: it links outside ${root}`)
        continue
      }
      const st = await fs.stat(real).catch(() => null)
      if (!st?.isFile()) continue
      found({ real, rel: path.relative(root, full).split(path.sep).join('/'), size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino })
    }
  }
}
