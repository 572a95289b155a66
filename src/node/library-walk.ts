/**
 * The walk of a shared folder: every media file below it (recursively), links resolved, files
 * that link outside the folder refused (Syncthing rejects paths that escape the folder; so do
 * we). Hidden names and our own partial downloads are skipped. The filesystem calls of a walk
 * run WALK_IO_CONCURRENCY at a time (folders and files alike), and a plain file (not a link)
 * below the real root is its own real path, so it is stat'ed without a realpath: a warm restart
 * of a 10,000-file library is bound by the thread pool, not by 20,000 round trips in turn
 * (docs/PERFORMANCE.md, bench/library.ts).
 */
import type { Dirent } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import PQueue from 'p-queue'
import { mediaKind } from './media-kind.ts'

/**
 * The files a content id cache recorded below the share `root` (real paths) as FoundFiles, from
 * the records alone (no filesystem call): what a warm start indexes before the walk re-validates
 * it. Names the walk would skip (hidden, partial downloads, not media) are left out; a file
 * reached through a link inside the share is named by its real path here.
 */
export function* cachedFiles(
  root: string,
  records: Iterable<[string, { size: number; mtimeMs: number; dev?: number; ino?: number }]>
): Generator<Omit<FoundFile, 'dev' | 'ino' | 'at'> & { dev?: number; ino?: number }> {
  for (const [real, r] of records) {
    const rel = path.relative(root, real).split(path.sep).join('/')
    if (!rel || rel.startsWith('../') || !mediaKind(rel) || rel.split('/').some(skippedName)) continue
    yield { real, rel, size: r.size, mtimeMs: r.mtimeMs, dev: r.dev, ino: r.ino }
  }
}

/** Filesystem calls (readdir, stat, realpath) of one walk in flight at once. */
const WALK_IO_CONCURRENCY = 32

/** A media file found by walkShare. `rel` is its path below the share, '/'-separated; size in bytes. */
export interface FoundFile {
  /** Absolute real path (symlinks resolved), inside the share. */
  real: string
  /** Absolute path where the walk found it: `real`, or the link's path when found through a link. */
  at: string
  rel: string
  size: number
  mtimeMs: number
  dev: number
  ino: number
}

/** Names a walk skips: hidden names and our own partial downloads. */
export function skippedName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.p2ptube-part') || name.endsWith('.p2ptube-part.json')
}

/**
 * Walk `dir` (below the share folder `root`, both real paths) and call `found` for each media
 * file, depth first in readdir order (the order names are given in, whatever order the calls
 * finish in), and `onDir` for every folder read (`dir` included: library-watch.ts watches them).
 * Unreadable folders and files that vanish are skipped (the folder with a warning); never throws
 * for them.
 */
export async function walkShare(root: string, dir: string, found: (f: FoundFile) => void, log?: (level: 'warn', msg: string) => void, onDir?: (dir: string) => void): Promise<void> {
  const io = new PQueue({ concurrency: WALK_IO_CONCURRENCY })
  for (const f of await walkDir(root, dir, io, log, onDir)) found(f)
}

/** The media files below `dir`, depth first in readdir order; its subfolders are walked at once. */
async function walkDir(root: string, dir: string, io: PQueue, log?: (level: 'warn', msg: string) => void, onDir?: (dir: string) => void): Promise<FoundFile[]> {
  let items: Dirent[]
  try {
    items = (await io.add(() => fs.readdir(dir, { withFileTypes: true }))) as Dirent[]
  } catch (err) {
    log?.('warn', `cannot read ${dir}: ${(err as Error).message}`)
    return []
  }
  onDir?.(dir)
  const parts = await Promise.all(
    items.map(async (it): Promise<FoundFile[]> => {
      if (skippedName(it.name)) return []
      const full = path.join(dir, it.name)
      if (it.isDirectory()) return walkDir(root, full, io, log, onDir)
      if (!(it.isFile() || it.isSymbolicLink()) || !mediaKind(it.name)) return []
      const f = await io.add(() => statFile(root, full, it.isSymbolicLink(), log))
      return f ? [f] : []
    })
  )
  return parts.flat()
}

/** A media file's real path and stat; null when it vanished, is not a file, or links outside `root`. */
export async function statFile(root: string, full: string, link: boolean, log?: (level: 'warn', msg: string) => void): Promise<FoundFile | null> {
  let real = full // a plain file in a real folder: already its real path
  if (link) {
    try {
      real = await fs.realpath(full)
    } catch {
      return null
    }
    if (real !== full && !real.startsWith(root + path.sep)) {
      log?.('warn', `not sharing ${full}: it links outside ${root}`)
      return null
    }
  }
  const st = await fs.stat(real).catch(() => null)
  if (!st?.isFile()) return null
  return { real, at: full, rel: path.relative(root, full).split(path.sep).join('/'), size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino }
}
