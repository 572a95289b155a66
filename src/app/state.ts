/**
 * A node's state across restarts, in one JSON file (`state.json` in the state folder,
 * $XDG_DATA_HOME/p2ptube by default: app/dirs.ts): the shares added while it ran (TUI `a`, the
 * JSON `share` command), the peers seen, the unfinished transfers and the files it downloaded
 * (and so shares). At start a node shares them again, rejoins the peers and resumes the
 * transfers from their partial files (docs/STREAMING.md: the chunk map makes that a resume).
 *
 * Only the process holding the folder's lock (profile-lock.ts) makes a NodeState; others read
 * the file with readState(). One-shot fetches add to `fetched.jsonl` beside it (appends, never a
 * rewrite), which the owner takes in at its next start. Independent of the content id cache's
 * format: paths and ids only. Writes are atomic (aside, then rename) and never overlap; a write
 * error is logged, never thrown.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Download, DownloadResult } from '../node/download.ts'
import type { PeerInfo } from '../node/peer-table.ts'
import type { P2PNode } from './node.ts'

/** An unfinished transfer, enough to fetch it again (a resume from its partial file). Size in bytes. */
export interface SavedTransfer {
  name: string
  contentId: string | null
  holder: string
  holders: string[]
  size: number | null
  dir: string
  legacy: boolean
}

/** A peer this node was connected to; `lastSeen` in ms since the epoch. */
export interface SavedPeer {
  id: string
  lastSeen: number
}

/** What state.json holds (version 1). */
export interface StateData {
  version: 1
  /** Folders and files shared at run time (real paths), besides the `--share`/config ones. */
  shares: string[]
  peers: SavedPeer[]
  transfers: SavedTransfer[]
  /** Files this node downloaded and verified: shared at every start while they exist. */
  downloaded: string[]
}

/** Most peers remembered (the most recently seen), and how long one is kept unseen (30 days). */
export const MAX_SAVED_PEERS = 32
export const PEER_MEMORY_MS = 30 * 24 * 3600 * 1000
/** Changes are written at most this often, ms. */
const SAVE_DELAY_MS = 200

export const STATE_FILE = 'state.json'
export const FETCHED_JOURNAL = 'fetched.jsonl'

const empty = (): StateData => ({ version: 1, shares: [], peers: [], transfers: [], downloaded: [] })
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

/** Parse state.json text, dropping whatever is malformed (a hand edit must not stop a node). */
export function parseState(text: string): StateData {
  const d = JSON.parse(text) as Partial<Record<keyof StateData, unknown>>
  const s = empty()
  s.shares = strings(d.shares)
  s.downloaded = strings(d.downloaded)
  if (Array.isArray(d.peers)) s.peers = d.peers.filter((p): p is SavedPeer => typeof p?.id === 'string' && typeof p?.lastSeen === 'number')
  if (Array.isArray(d.transfers)) s.transfers = d.transfers.filter((x): x is SavedTransfer => typeof x?.name === 'string' && typeof x?.holder === 'string' && typeof x?.dir === 'string')
  for (const x of s.transfers) x.holders = strings(x.holders)
  return s
}

/** Read the state of folder `dir` (an empty state when there is none or it is unreadable). */
export function readState(dir: string): StateData {
  try {
    return parseState(readFileSync(path.join(dir, STATE_FILE), 'utf8'))
  } catch {
    return empty()
  }
}

/** The remembered peers, most recently seen first, forgotten after PEER_MEMORY_MS. */
export function recentPeers(s: StateData, now = Date.now()): string[] {
  return s.peers
    .filter((p) => now - p.lastSeen < PEER_MEMORY_MS)
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .map((p) => p.id)
}

/** Record a verified download by another process (a one-shot fetch): one appended line, never a rewrite. Errors are ignored. */
export function journalFetched(dir: string, file: string): void {
  try {
    mkdirSync(dir, { recursive: true })
    appendFileSync(path.join(dir, FETCHED_JOURNAL), JSON.stringify({ path: file, at: Date.now() }) + '\n')
  } catch {
    // the state folder is gone or read-only: the running node just will not share it
  }
}

function readJournal(dir: string): string[] {
  try {
    return readFileSync(path.join(dir, FETCHED_JOURNAL), 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          const p = (JSON.parse(l) as { path?: unknown }).path
          return typeof p === 'string' ? [p] : []
        } catch {
          return []
        }
      })
  } catch {
    return []
  }
}

const exists = (p: string): Promise<boolean> =>
  fs.access(p).then(
    () => true,
    () => false
  )

type Log = (level: 'info' | 'warn', msg: string) => void

/**
 * The state of one node, kept in `dir`. Events are followed from attach() (called by P2PNode at
 * start, after restoreShares) to detach() (first thing at stop: the downloads the stop cancels
 * stay unfinished, so they resume next time).
 */
export class NodeState {
  private data: StateData = empty()
  /** Shares of this run given by flag or config (not saved: they come again that way). */
  private base = new Set<string>()
  private readonly transfers = new Map<Download, SavedTransfer>()
  private node: P2PNode | null = null
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> = Promise.resolve()
  private readonly off: Array<() => void> = []

  constructor(
    readonly dir: string,
    private readonly log: Log = () => {}
  ) {}

  get file(): string {
    return path.join(this.dir, STATE_FILE)
  }

  /** The state as read at start (plus what happened since, once attached). */
  get snapshot(): StateData {
    return this.data
  }

  /**
   * Read state.json and the fetched journal, then share the saved shares and downloaded files
   * that still exist (a missing one is dropped with a warning). Call after the flag/config shares.
   */
  async restoreShares(node: P2PNode): Promise<void> {
    this.data = readState(this.dir)
    this.base = new Set(node.library.shares)
    const downloaded = [...new Set([...this.data.downloaded, ...readJournal(this.dir)])]
    this.data.downloaded = []
    for (const f of downloaded) {
      if (!(await exists(f))) continue // deleted by the user: no longer shared
      await node.library.addShare(f).catch((err: Error) => this.log('warn', `cannot share ${f} again: ${err.message}`))
      this.data.downloaded.push(await fs.realpath(f).catch(() => f))
    }
    const shares = this.data.shares
    this.data.shares = []
    for (const s of shares) {
      if (this.base.has(s)) continue
      try {
        await node.library.addShare(s)
      } catch (err) {
        this.log('warn', `no longer sharing ${s}: ${(err as Error).message}`)
      }
    }
    if (shares.length || downloaded.length)
      this.log(
        'info',
        `state: sharing again ${shares.length} share${shares.length === 1 ? '' : 's'} and ${this.data.downloaded.length} downloaded file${this.data.downloaded.length === 1 ? '' : 's'} (${this.file})`
      )
  }

  /** Follow the node's library, peers and downloads, and save on change. Resolves once the state is written. */
  attach(node: P2PNode): Promise<void> {
    this.node = node
    const on = (em: NodeJS.EventEmitter, ev: string, fn: (...a: never[]) => void): void => {
      em.on(ev, fn as (...a: unknown[]) => void)
      this.off.push(() => em.off(ev, fn as (...a: unknown[]) => void))
    }
    on(node.library, 'added', () => this.changed())
    on(node.library, 'removed', () => this.changed())
    on(node, 'peer-added', (p: PeerInfo) => {
      this.seen(p.id, p.lastSeen)
      this.changed()
    })
    on(node, 'download', (d: Download) => this.track(d))
    return this.save()
  }

  /** The saved transfers, and the peers to rejoin (most recent first, not this node). */
  pending(): { transfers: SavedTransfer[]; peers: string[] } {
    return { transfers: [...this.data.transfers], peers: recentPeers(this.data).filter((id) => !this.node?.isSelf(id)) }
  }

  /**
   * Rejoin the remembered peers (all at once, in the background: a dead one costs its connect
   * timeout, not the others') and resume the saved transfers from their partial files.
   * @returns the resumed downloads (already started; a failed one stays saved for next time) and
   *   the number of peers the joins added.
   */
  resume(node: P2PNode): { downloads: Download[]; joined: Promise<number> } {
    const { transfers, peers } = this.pending()
    const todo = peers.filter((id) => !node.peers.has(id))
    const joined = Promise.allSettled(todo.map((id) => node.join(id, undefined, 'bootstrap'))).then((rs) => {
      const added = rs.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0)
      if (todo.length) this.log('info', `state: rejoined ${rs.filter((r) => r.status === 'fulfilled').length} of ${todo.length} remembered peers (${added} added)`)
      return added
    })
    const downloads: Download[] = []
    for (const t of transfers) {
      try {
        const d = node.fetch({ name: t.name, holder: t.holder, holders: t.holders, contentId: t.contentId, size: t.size, legacy: t.legacy, dir: t.dir })
        downloads.push(d)
        this.log('info', `state: resuming ${t.name} from ${[t.holder, ...t.holders].join(', ')}`)
        d.start().then(
          (r) => this.log('info', `state: resumed download of ${t.name} done: ${r.path}`),
          (err: Error) => this.log('warn', `state: ${t.name} not resumed now (${err.message}); tried again at the next start`)
        )
      } catch (err) {
        this.log('warn', `state: cannot resume ${t.name}: ${(err as Error).message}`)
      }
    }
    return { downloads, joined }
  }

  private seen(id: string, lastSeen: number): void {
    const p = this.data.peers.find((x) => x.id === id)
    if (p) p.lastSeen = Math.max(p.lastSeen, lastSeen)
    else this.data.peers.push({ id, lastSeen })
  }

  private track(d: Download): void {
    const o = d.opts
    const t: SavedTransfer = { name: o.name, contentId: o.cid ?? null, holder: o.holder.id, holders: d.sources.filter((s) => s !== o.holder.id), size: o.size ?? null, dir: o.dir, legacy: o.legacy }
    // One entry per content id (or holder/name): a resume replaces the one before.
    const key = (x: SavedTransfer): string => x.contentId ?? `${x.holder}/${x.name}`
    this.data.transfers = this.data.transfers.filter((x) => key(x) !== key(t))
    this.data.transfers.push(t)
    this.transfers.set(d, t)
    const forget = (): void => {
      this.data.transfers = this.data.transfers.filter((x) => x !== t)
      this.transfers.delete(d)
    }
    d.once('done', (res: DownloadResult) => {
      forget()
      if (o.cid) {
        void fs.realpath(res.path).then(
          (real) => {
            if (!this.data.downloaded.includes(real)) this.data.downloaded.push(real)
            this.changed()
          },
          () => {}
        )
      }
      this.changed()
    })
    d.on('state', (s: string) => {
      // Cancelled by the user (x in the TUI): not resumed. A stop detaches first, so the
      // downloads it cancels stay. A failed one (holder gone) is tried again next start.
      if (s === 'cancelled' && this.node) {
        forget()
        this.changed()
      }
    })
    d.on('source-added', () => {
      t.holders = d.sources.filter((s) => s !== t.holder)
    })
    this.changed()
  }

  private changed(): void {
    if (!this.node || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = null
      void this.save()
    }, SAVE_DELAY_MS)
  }

  /** Write state.json now (peers' lastSeen refreshed from the table). Never rejects. */
  save(): Promise<void> {
    const node = this.node
    if (node) {
      for (const p of node.peers.list()) this.seen(p.id, p.lastSeen)
      const downloaded = new Set(this.data.downloaded)
      this.data.shares = node.library.shares.filter((s) => !this.base.has(s) && !downloaded.has(s))
    }
    this.data.peers = this.data.peers.sort((a, b) => b.lastSeen - a.lastSeen).slice(0, MAX_SAVED_PEERS)
    const text = JSON.stringify(this.data, null, 1)
    this.writing = this.writing.then(async () => {
      const tmp = `${this.file}.${process.pid}.tmp`
      try {
        await fs.mkdir(this.dir, { recursive: true })
        await fs.writeFile(tmp, text)
        await fs.rename(tmp, this.file)
      } catch (err) {
        this.log('warn', `cannot write the node state ${this.file}: ${(err as Error).message}`)
      }
    })
    return this.writing
  }

  /** Stop following the node (first thing at stop) and write the state. Idempotent; never rejects. */
  async detach(): Promise<void> {
    if (!this.node) return this.writing
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.save()
    for (const f of this.off.splice(0)) f()
    this.node = null
  }
}
