/**
 * The seeder's upload log: one entry per finished upload of a file to a peer, not one per
 * request. A swarm download sends many RGETs for one file, several at once over separate
 * connections (docs/STREAMING.md); the replies to one remote address for one file are summed
 * until none has been running for `idleMs`, then one 'upload' is emitted: who, which file,
 * how many bytes, over how long.
 */
import { EventEmitter } from 'node:events'

/** One FGET/RGET reply that ended. Bytes of file data; `ms` its duration; `at` epoch ms of its end. */
export interface UploadRecord {
  /** The requester's address as seen on the socket. */
  remote: string
  /** The group member's name (group transport), else null. */
  member: string | null
  /** The file's library name. */
  name: string
  bytes: number
  ms: number
  at: number
}

/** A finished upload: the replies of one peer for one file. `ms` from the first reply's start to the last one's end. */
export interface Upload {
  peer: string
  member: string | null
  name: string
  bytes: number
  ms: number
  /** Replies (requests) it took. */
  requests: number
}

/** A peer's file is done once no reply for it ran for this long, ms (a player that paused resumes with a new upload). */
export const UPLOAD_IDLE_MS = 3000

interface Open {
  u: Upload
  start: number
  end: number
  timer: NodeJS.Timeout
}

/** Events: 'upload' (Upload). `stop()` emits the open ones and clears the timers. */
export class UploadLog extends EventEmitter {
  private readonly open = new Map<string, Open>()

  constructor(private readonly idleMs = UPLOAD_IDLE_MS) {
    super()
  }

  /** Add one reply; the upload it belongs to is emitted `idleMs` after the last reply. */
  record(r: UploadRecord): void {
    const key = `${r.remote}\n${r.name}`
    const start = r.at - r.ms
    let o = this.open.get(key)
    if (o) {
      clearTimeout(o.timer)
      o.u.bytes += r.bytes
      o.u.requests++
      o.start = Math.min(o.start, start)
      o.end = Math.max(o.end, r.at)
    } else {
      o = { u: { peer: r.remote, member: r.member, name: r.name, bytes: r.bytes, ms: 0, requests: 1 }, start, end: r.at, timer: undefined as unknown as NodeJS.Timeout }
      this.open.set(key, o)
    }
    const open = o
    open.timer = setTimeout(() => this.finish(key, open), this.idleMs)
    open.timer.unref?.()
  }

  private finish(key: string, o: Open): void {
    clearTimeout(o.timer)
    this.open.delete(key)
    o.u.ms = Math.round(o.end - o.start)
    this.emit('upload', o.u)
  }

  /** Emit every open upload now and clear the timers (the node stops). */
  stop(): void {
    for (const [k, o] of [...this.open]) this.finish(k, o)
  }
}
