/** Finding the mpv executable and telling whether a display is available. */
import { accessSync, constants as fsConstants, statSync } from 'node:fs'
import { delimiter, join, resolve as resolvePath } from 'node:path'

/**
 * Resolves `binary` like a shell would, without spawning one: a name containing '/' is checked
 * as a path, a bare name is looked up in each `process.env.PATH` directory.
 * @returns the absolute path of an executable regular file, or null when there is none.
 */
export function findMpv(binary = 'mpv'): string | null {
  const candidates = binary.includes('/')
    ? [resolvePath(binary)]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, binary))
  for (const file of candidates) {
    try {
      accessSync(file, fsConstants.X_OK)
      if (statSync(file).isFile()) return file
    } catch {
      // not there or not executable: try the next directory
    }
  }
  return null
}

/** True when no display server is reachable: neither DISPLAY nor WAYLAND_DISPLAY is set (non-empty). */
export function isHeadless(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.DISPLAY && !env.WAYLAND_DISPLAY
}
