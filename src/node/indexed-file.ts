/**
 * Opening a shared file for serving, as indexed and nothing else (docs/SECURITY.md "Shared files
 * on disk"): the last path component is not followed if it became a symlink (O_NOFOLLOW), and
 * the opened file must be the one indexed: same device and inode, size and mtime. A file swapped
 * for a same-size symlink or file, or edited in place, is refused instead of served with the
 * indexed content id and hash list.
 */
import fs from 'node:fs/promises'
import { P2PTubeError } from '../protocol/errors.ts'

/** What identifies an indexed file on disk (from its stat at indexing time). */
export interface FileIdentity {
  path: string
  size: number
  mtimeMs: number
  /** Device and inode; absent for entries made before they were recorded (then not compared). */
  dev?: number
  ino?: number
}

/** Is `st` the file `id` describes? */
export function sameFile(id: FileIdentity, st: { size: number; mtimeMs: number; dev: number; ino: number; isFile(): boolean }): boolean {
  return st.isFile() && st.size === id.size && st.mtimeMs === id.mtimeMs && (id.dev === undefined || st.dev === id.dev) && (id.ino === undefined || st.ino === id.ino)
}

/**
 * Open an indexed file read-only.
 * @throws P2PTubeError ERR_READ when it cannot be opened (deleted; ELOOP: it is a symlink now),
 *   ERR_FILE_CHANGED when the opened file is not the indexed one (handle closed).
 */
export async function openIndexed(id: FileIdentity): Promise<fs.FileHandle> {
  let fh: fs.FileHandle
  try {
    fh = await fs.open(id.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  } catch (err) {
    throw new P2PTubeError('ERR_READ', `Error reading file (${(err as NodeJS.ErrnoException).code ?? 'unknown'})`)
  }
  try {
    if (!sameFile(id, await fh.stat())) throw new P2PTubeError('ERR_FILE_CHANGED', 'Error reading file: it changed since it was indexed')
    return fh
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
}
