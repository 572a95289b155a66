/**
 * TUI state: plain data, and the functions that update it from node events and key actions
 * (STYLE.md "TUI"). No blessed, no node, no I/O: unit-tested on its own. Views only read it.
 * Sizes are bytes, rates bytes/s, times epoch ms unless a field says otherwise. The transfer
 * rows and the node's rates (sampled byte counters) are updated in transfers-state.ts.
 */
import { safeText } from '../text/safe-text.ts'
import { mediaKind } from '../node/media-kind.ts'
import type { MediaMeta } from '../protocol/media-meta.ts'
import { browseLevel, listRows, type BrowseState, type ItemRow, type SortKey } from './list-state.ts'

export type { ItemRow } from './list-state.ts'

/** The focusable panes, in Tab order. */
export const PANES = ['items', 'transfers', 'peers', 'log'] as const
export type PaneId = (typeof PANES)[number]

export type PeerSourceName = 'bootstrap' | 'crawl' | 'joined' | 'mdns' | 'tracker'

/** A row of the peers pane. `lastSeen` is epoch ms. */
export interface PeerRow {
  id: string
  address: string
  source: PeerSourceName
  lastSeen: number
}

export type TransferStateName = 'queued' | 'downloading' | 'verifying' | 'done' | 'failed' | 'cancelled'

/** A row of the transfers pane. `rate` is a smoothed bytes/s; `etaSec` null when unknown. */
export interface TransferRow {
  id: number
  name: string
  kind: string
  state: TransferStateName
  size: number | null
  received: number
  rate: number
  etaSec: number | null
  sources: string[]
  error: string | null
  path: string | null
  sha256: string | null
  /** Internal: last sample for the rate (epoch ms, bytes). */
  sampleAt: number
  sampleBytes: number
}

export interface LogLine {
  at: number
  level: string
  msg: string
}

/**
 * mpv playback as mpv reports it (never assumed): 'loading' until its first frame, 'playing' /
 * 'paused' from its events, 'ended' after the last file's end, 'error' when mpv failed (the
 * reason in `error`), 'idle' when stopped or not running. Times in seconds.
 */
export interface PlaybackState {
  active: boolean
  state?: 'idle' | 'loading' | 'playing' | 'paused' | 'ended' | 'error'
  error?: string
  title: string
  position: number | null
  duration: number | null
  paused: boolean
  /** mpv's volume in percent. */
  volume?: number
  /** Place in a play queue (1-based index), when one plays. */
  queue?: { index: number; total: number } | null
}

/** A finished upload a peer took from this node (node 'upload' events). `at` epoch ms. */
export interface UploadRow {
  peer: string
  name: string
  bytes: number
  at: number
}

export type StatusLevel = 'info' | 'ok' | 'warn' | 'error'

/** A modal line prompt (the dispatcher is off while one is open). */
export interface PromptState {
  kind: 'add' | 'search' | 'rebuild' | 'join' | 'filter' | 'confirmQuit'
  label: string
  value: string
  /** The value is a suggestion: the first typed character replaces it instead of appending. */
  fresh?: boolean
  /** Candidates of the last path completion, shown under the prompt. */
  hint: string
}

/** Everything the views draw. */
export interface TuiState {
  /** `reach`: how peers reach this node ("mapped 20.0.0.21:41753", "reversal"), '' until known. */
  node: { id: string; files: number; upRate: number; downRate: number; bytesUp: number; bytesDown: number; ratesAt: number; reach?: string }
  peers: PeerRow[]
  library: ItemRow[]
  results: ItemRow[]
  listMode: 'library' | 'results' | 'browse'
  search: { query: string; running: boolean }
  /** A peer's library (B, or Enter on a peer), shown when listMode is 'browse'. */
  browse: BrowseState | null
  /** In-list filter (`/`): words matched against name and tags, case and accents ignored. */
  filter: string
  sort: SortKey
  /** Recent uploads, newest last (at most MAX_UPLOADS). */
  uploads: UploadRow[]
  transfers: TransferRow[]
  log: LogLine[]
  /** Lines scrolled up from the bottom of the log (0 = follow). */
  logScroll: number
  playback: PlaybackState
  focus: PaneId
  selected: Record<PaneId, number>
  status: { text: string; level: StatusLevel; at: number }
  prompt: PromptState | null
  help: boolean
  quitting: boolean
}

/** Most log lines kept. */
export const MAX_LOG = 500

/** A fresh state for a node `id`. */
export function initialState(id = '', now = Date.now()): TuiState {
  return {
    node: { id, files: 0, upRate: 0, downRate: 0, bytesUp: 0, bytesDown: 0, ratesAt: now },
    peers: [],
    library: [],
    results: [],
    listMode: 'library',
    search: { query: '', running: false },
    browse: null,
    filter: '',
    sort: 'name',
    uploads: [],
    transfers: [],
    log: [],
    logScroll: 0,
    playback: { active: false, state: 'idle', title: '', position: null, duration: null, paused: false, volume: 100, queue: null },
    focus: 'items',
    selected: { items: 0, peers: 0, transfers: 0, log: 0 },
    status: { text: 'ready - press ? for help', level: 'info', at: now },
    prompt: null,
    help: false,
    quitting: false
  }
}

/** Set the status line (every action ends here: no silent keys). */
export function setStatus(s: TuiState, text: string, level: StatusLevel = 'info', now = Date.now()): void {
  s.status = { text: safeText(text), level, at: now }
}

/** Append a log line, dropping the oldest beyond MAX_LOG; a scrolled-up view stays put. */
export function pushLog(s: TuiState, level: string, msg: string, now = Date.now()): void {
  s.log.push({ at: now, level, msg: safeText(msg) })
  if (s.log.length > MAX_LOG) s.log.splice(0, s.log.length - MAX_LOG)
  if (s.logScroll > 0) s.logScroll = Math.min(s.logScroll + 1, s.log.length - 1)
}

/** Replace the peer rows from the peer table (sorted by id); keeps the selection in range. */
export function setPeers(s: TuiState, peers: Array<{ id: string; host: string; port: number; source: PeerSourceName; lastSeen: number }>): void {
  s.peers = peers.map((p) => ({ id: p.id, address: `${p.host}:${p.port}`, source: p.source, lastSeen: p.lastSeen })).sort((a, b) => a.id.localeCompare(b.id))
  clampSelection(s)
}

/** Replace the library rows from the library entries (shown in the list's sort order). */
export function setLibrary(s: TuiState, entries: Array<{ name: string; kind: string; size: number; cid?: string; meta?: MediaMeta | undefined }>): void {
  s.library = entries.map((e) => ({ key: e.cid ?? `local:${e.name}`, name: e.name, kind: e.kind, size: e.size, holders: ['you'], contentId: e.cid ?? null, legacy: false, meta: e.meta }))
  s.node.files = entries.length
  clampSelection(s)
}

/** A new search: clears the results and shows the results list. */
export function startSearch(s: TuiState, query: string): void {
  s.search = { query, running: true }
  s.results = []
  s.listMode = 'results'
  s.focus = 'items'
  s.selected.items = 0
}

/** One answer of a holder: merged into the row of the same file (content id, or name for legacy). */
export function addResult(s: TuiState, r: { name: string; size: number | null; contentId: string | null; kind: string | null; holder: string; legacy: boolean; meta?: MediaMeta | undefined }): void {
  const key = r.contentId ?? `legacy:${r.name}`
  const row = s.results.find((x) => x.key === key)
  if (row) {
    if (!row.holders.includes(r.holder)) row.holders.push(r.holder)
    return
  }
  s.results.push({ key, name: r.name, kind: r.kind ?? kindOf(r.name), size: r.size, holders: [r.holder], contentId: r.contentId, legacy: r.legacy, meta: r.meta })
}

/** The search timed out: no more answers will come. */
export function finishSearch(s: TuiState): void {
  s.search.running = false
}

/** The rows the items pane shows now: the list of the mode, filtered and sorted (list-state.ts). */
export function visibleItems(s: TuiState): ItemRow[] {
  const base = s.listMode === 'library' ? s.library : s.listMode === 'results' ? s.results : s.browse ? browseLevel(s.browse) : []
  return listRows(base, s.filter, s.sort)
}

/** The selected row of a pane, if any. */
export function selectedItem(s: TuiState): ItemRow | undefined {
  return visibleItems(s)[s.selected.items]
}
export function selectedPeer(s: TuiState): PeerRow | undefined {
  return s.peers[s.selected.peers]
}
export function selectedTransfer(s: TuiState): TransferRow | undefined {
  return s.transfers[s.selected.transfers]
}

/** Switch the items pane between your library and the last search's results (browse → library). */
export function toggleListMode(s: TuiState): void {
  s.listMode = s.listMode === 'library' ? 'results' : 'library'
  s.selected.items = 0
}

/** Home / End: the first or last row of the focused pane (the log: oldest / newest). */
export function jumpSelection(s: TuiState, to: 'first' | 'last'): void {
  if (s.focus === 'log') {
    s.logScroll = to === 'first' ? Math.max(0, s.log.length - 1) : 0
    return
  }
  s.selected[s.focus] = to === 'first' ? 0 : rowCount(s, s.focus) - 1
  clampSelection(s)
}

/** Drop the finished, failed and cancelled transfer rows. @returns how many were dropped. */
export function clearFinished(s: TuiState): number {
  const before = s.transfers.length
  s.transfers = s.transfers.filter((t) => t.state === 'downloading' || t.state === 'verifying' || t.state === 'queued')
  clampSelection(s)
  return before - s.transfers.length
}

/** Most uploads kept for the transfers summary. */
export const MAX_UPLOADS = 50

/** A peer took a file from this node (node 'upload'). */
export function addUpload(s: TuiState, u: { peer: string; name: string; bytes: number }, now = Date.now()): void {
  s.uploads.push({ peer: u.peer, name: safeText(u.name), bytes: u.bytes, at: now })
  if (s.uploads.length > MAX_UPLOADS) s.uploads.splice(0, s.uploads.length - MAX_UPLOADS)
}

/** Tab / Shift-Tab. */
export function cycleFocus(s: TuiState, dir: 1 | -1 = 1): void {
  const i = PANES.indexOf(s.focus)
  s.focus = PANES[(i + dir + PANES.length) % PANES.length] as PaneId
}

/** Move the selection of the focused pane (the log pane scrolls instead). */
export function moveSelection(s: TuiState, delta: number): void {
  if (s.focus === 'log') {
    s.logScroll = Math.max(0, Math.min(s.log.length - 1, s.logScroll - delta))
    return
  }
  s.selected[s.focus] += delta
  clampSelection(s)
}

function rowCount(s: TuiState, p: PaneId): number {
  if (p === 'items') return visibleItems(s).length
  if (p === 'peers') return s.peers.length
  if (p === 'transfers') return s.transfers.length
  return s.log.length
}

/** Keep every pane's selection inside its rows (after the rows changed). */
export function clampSelection(s: TuiState): void {
  for (const p of PANES) s.selected[p] = Math.max(0, Math.min(s.selected[p], rowCount(s, p) - 1))
}

/** Merge mpv facts into the playback state. */
export function updatePlayback(s: TuiState, p: Partial<PlaybackState>): void {
  Object.assign(s.playback, p)
}

/** Open a prompt (the dispatcher is off until it closes). */
export function openPrompt(s: TuiState, kind: PromptState['kind'], label: string, value = '', fresh = false): void {
  s.prompt = { kind, label, value, hint: '', fresh }
}

/**
 * Edit the open prompt with one key: printable characters append, backspace deletes, C-u clears.
 * @returns 'submit' (enter), 'cancel' (escape/C-g), 'complete' (tab) or 'edit'.
 */
export function promptKey(s: TuiState, ch: string | undefined, full: string): 'submit' | 'cancel' | 'complete' | 'edit' {
  const p = s.prompt
  if (!p) return 'cancel'
  if (full === 'enter') return 'submit'
  if (full === 'escape' || full === 'C-g') return 'cancel'
  if (full === 'tab') return 'complete'
  // A suggested value (rebuild's selected peer) is replaced by typing, not appended to.
  const fresh = p.fresh
  p.fresh = false
  if (full === 'backspace') p.value = fresh ? '' : p.value.slice(0, -1)
  else if (full === 'C-u') p.value = ''
  else if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f') p.value = (fresh ? '' : p.value) + ch
  else p.fresh = fresh
  return 'edit'
}

/** Media kind from a file name's extension ("video", "audio", "image" or "?"). */
export function kindOf(name: string): string {
  return mediaKind(name) ?? '?'
}
