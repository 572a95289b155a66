/**
 * The TUI's browse view and play queue actions (issue 12): B (or Enter on a peer) lists a peer's
 * library over BRWS (node/browse-client.ts: paged, capped), Enter goes into a folder, Backspace
 * goes up; P plays the whole list (from the selected row) or the selected album/folder in order
 * through one gapless mpv playlist (Playback.playQueue).
 */
import path from 'node:path'
import type { QueueEntry } from '../media/play-queue.ts'
import type { FetchRequest } from '../node/download-manager.ts'
import { browsePeer } from '../node/browse-client.ts'
import { parsePeerId } from '../protocol/messages.ts'
import { errText } from '../protocol/errors.ts'
import { albumFolder } from '../text/album-folder.ts'
import type { ActionContext } from './action-context.ts'
import { filesUnder } from './list-state.ts'
import { selectedItem, selectedPeer, visibleItems, type ItemRow } from './state.ts'

/**
 * Browse the selected peer (peers pane), or the holder of the selected result. The entries fill
 * the items pane page by page as they arrive.
 */
export async function browseEntries(c: ActionContext): Promise<void> {
  const s = c.state
  const item = s.focus === 'peers' ? undefined : selectedItem(s)
  const peer = s.focus === 'peers' ? selectedPeer(s)?.id : item && !item.dir && item.holders[0] !== 'you' ? item.holders[0] : s.browse?.peer
  if (!peer) return c.say('no peer to browse: select one in the peers pane (Tab), or a search result', 'warn')
  const b = { peer, entries: [] as ItemRow[], path: [] as string[], loading: true, total: 0, cut: false }
  s.browse = b
  s.listMode = 'browse'
  s.focus = 'items'
  s.selected.items = 0
  c.say(`browsing ${peer}...`)
  try {
    for await (const page of browsePeer(parsePeerId(peer), { transport: c.node.transport })) {
      if (s.browse !== b) return
      for (const e of page.entries) b.entries.push({ key: e.cid, name: e.name, kind: e.kind, size: e.size, holders: [peer], contentId: e.cid, legacy: false, meta: e.meta })
      b.total = page.total
      b.cut = page.cut
      c.render()
    }
    b.loading = false
    c.say(`${peer}: ${b.entries.length}${b.cut ? ` of ${b.total} (cut at the cap)` : ''} files; Enter opens a folder, Backspace goes up, P plays an album`, 'ok')
  } catch (err) {
    b.loading = false
    if (s.browse === b) c.say(`cannot browse ${peer}: ${errText(err)}`, 'error')
  }
}

/** Enter on a folder row: show it. */
export function browseInto(c: ActionContext, dir: ItemRow): void {
  const b = c.state.browse
  if (!b) return
  b.path.push(dir.name.replace(/\/$/, ''))
  c.state.selected.items = 0
  c.say(`${b.peer}: /${b.path.join('/')}`, 'info', false)
}

/** Backspace: the folder above (at the top: nothing to do). */
export function browseUp(c: ActionContext): void {
  const b = c.state.browse
  if (c.state.listMode !== 'browse' || !b) return c.say('Backspace goes up a folder in the browse view (B browses a peer)', 'info', false)
  if (!b.path.length) return c.say(`already at the top of ${b.peer}`, 'info', false)
  b.path.pop()
  c.state.selected.items = 0
  c.say(`${b.peer}: /${b.path.join('/')}`, 'info', false)
}

/**
 * P: play in order, one gapless mpv playlist: the selected folder's files (album order), or the
 * list's files from the selected row on. Files already here (same content id) play from disk.
 */
export async function playAll(c: ActionContext): Promise<void> {
  const s = c.state
  const item = selectedItem(s)
  let rows: ItemRow[]
  if (item?.dir && s.browse) rows = filesUnder(s.browse, [...s.browse.path, item.name.replace(/\/$/, '')])
  else {
    const list = visibleItems(s)
    rows = list.slice(Math.max(0, s.selected.items)).filter((r) => !r.dir)
  }
  if (!rows.length) return c.say('nothing to play here: P plays the list from the selected row, or the selected album', 'warn')
  const entries: QueueEntry[] = rows.map((r) => ({ name: r.name, open: () => source(c, r) }))
  c.say(`play queue: ${rows.length} file${rows.length === 1 ? '' : 's'} in order, from ${rows[0]!.name}`)
  await c.playback.playQueue(
    entries,
    rows[0]!.name,
    rows.every((r) => r.kind === 'audio')
  )
}

/** A queue entry's source: your own copy when you have the content, else a download from its holders. */
function source(c: ActionContext, r: ItemRow): ReturnType<QueueEntry['open']> {
  const own = r.holders[0] === 'you' ? c.node.library.get(r.name)?.path : r.contentId ? c.node.library.getByCid(r.contentId)?.path : undefined
  if (own) return own
  if (r.holders[0] === 'you') throw new Error(`${r.name} is no longer in your library`)
  return c.node.downloads.fetch(fetchRequest(c.node.downloadsDir, r))
}

/**
 * What the TUI fetches for a result row: every holder of the row as a source (swarm), saved in
 * the name's album folder below `downloadsDir` (`Artist/Album/01.ogg` → DIR/Artist/Album), as the
 * CLI's fetch and play queue do (text/album-folder.ts; issue 12).
 */
export function fetchRequest(downloadsDir: string, r: Pick<ItemRow, 'name' | 'holders' | 'contentId' | 'size' | 'legacy'>): FetchRequest {
  return { name: r.name, holder: r.holders[0] as string, holders: r.holders, contentId: r.contentId, size: r.size, legacy: r.legacy, dir: path.join(downloadsDir, albumFolder(r.name)) }
}
