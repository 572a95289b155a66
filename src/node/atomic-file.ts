/** Writing a state file so a reader never sees half of it: written aside, then renamed over it. */
import fs from 'node:fs/promises'
import path from 'node:path'

/**
 * Write `data` to `file` atomically: its folder is created, the bytes go to `<file>.<pid>.tmp`
 * (one per process, so two p2ptube processes never write the same temp file) and are renamed
 * over `file`. @throws the file system's error (the temp file may be left behind).
 */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await fs.mkdir(path.dirname(file), { recursive: true })
  await fs.writeFile(tmp, data)
  await fs.rename(tmp, file)
}
