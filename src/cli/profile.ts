/**
 * Which state folder and cache a command's node uses, and whether it may write them
 * (app/profile-lock.ts: one writer per folder). `node` and the TUI take the folder's lock and
 * keep their state (app/state.ts); a second one on the same folder runs with neither state nor
 * cache, and says so. One-shot `search`/`fetch` never write the state or the default cache; they
 * read the remembered peers (and the running node's port) to join when no peer is given.
 */
import path from 'node:path'
import { p2ptubeDirs } from '../app/dirs.ts'
import { lockHolder, ProfileLock, type LockInfo } from '../app/profile-lock.ts'
import { journalFetched, NodeState, readState, recentPeers } from '../app/state.ts'
import type { Output } from './output.ts'

/** The lock file in a state folder. */
export const LOCK_FILE = 'node.lock'
/** Most remembered peers a one-shot command tries. */
const ONE_SHOT_PEERS = 8

/** A command's state folder and what it may do with it. */
export interface Profile {
  /** The state folder (--data, else $XDG_DATA_HOME/p2ptube). */
  dir: string
  /** The node's state, when this process owns the folder. */
  state: NodeState | null
  lock: ProfileLock | null
  /** The content id cache folder for this process, or null (no cache: another process owns it). */
  cacheDir: string | null
  /** The process that owns the folder, when it is another one. */
  heldBy: LockInfo | null
}

/**
 * Open the state folder of `data` (the --data option) for a long-running node (`own`: take the
 * lock) or a one-shot command.
 */
export async function openProfile(data: string | undefined, own: boolean, out: Output): Promise<Profile> {
  const dirs = p2ptubeDirs()
  const dir = data ? path.resolve(data) : dirs.data
  const cache = data ? dir : dirs.cache
  const lockFile = path.join(dir, LOCK_FILE)
  if (!own) {
    const heldBy = lockHolder(lockFile)
    // Only an explicit --data folder nobody owns is written (as before); the default cache is the node's.
    return { dir, state: null, lock: null, cacheDir: data && !heldBy ? dir : null, heldBy }
  }
  let got: Awaited<ReturnType<typeof ProfileLock.acquire>>
  try {
    got = await ProfileLock.acquire(lockFile)
  } catch (err) {
    out.info(`cannot lock ${lockFile} (${(err as Error).message}): this node's state and cache are not kept`, 'warn')
    return { dir, state: null, lock: null, cacheDir: null, heldBy: null }
  }
  if (!(got instanceof ProfileLock)) {
    out.info(`${dir} belongs to p2ptube process ${got.heldBy.pid}: this node keeps no state and no cache (give it its own --data DIR)`, 'warn')
    return { dir, state: null, lock: null, cacheDir: null, heldBy: got.heldBy }
  }
  const lock = got
  // A crash or process.exit() skips release(): the lock goes with the process all the same.
  process.once('exit', () => lock.releaseSync())
  return { dir, state: new NodeState(dir, (level, msg) => out.info(msg, level)), lock, cacheDir: cache, heldBy: null }
}

/**
 * Peers a one-shot command joins when none is given: the node running on this machine with the
 * same state folder (127.0.0.1 and its port), then the most recently seen remembered peers.
 */
export function rememberedPeers(p: Profile): string[] {
  const local = p.heldBy?.port ? [`127.0.0.1:${p.heldBy.port}`] : []
  return [...local, ...recentPeers(readState(p.dir)).filter((id) => !local.includes(id))].slice(0, ONE_SHOT_PEERS)
}

/** A one-shot fetch verified `file`: the node owning the folder shares it from its next start on. */
export function noteFetched(p: Profile, file: string): void {
  journalFetched(p.dir, file)
}
