/**
 * What each key action does: turn the selection into node calls (search, fetch, join, remove,
 * stabilize), playback calls and prompts. Every action ends in `say()`: a status line that tells
 * what happened or why not. Long work (network, mpv) runs in the background; nothing here blocks
 * the UI.
 */
import { parsePeerId } from '../protocol/messages.ts'
import type { ActionContext } from './action-context.ts'
import { completePath, expandPath } from './complete.ts'

export type { ActionContext } from './action-context.ts'
import type { Handlers } from './keys.ts'
import { browseEntries, browseInto, browseUp, fetchRequest, playAll } from './browse-actions.ts'
import { nextSortKey } from './list-state.ts'
import { VOLUME_STEP } from './playback.ts'
import {
  addResult,
  clearFinished,
  cycleFocus,
  finishSearch,
  jumpSelection,
  moveSelection,
  openPrompt,
  selectedItem,
  selectedPeer,
  selectedTransfer,
  startSearch,
  toggleListMode,
  type PromptState
} from './state.ts'

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The handlers of every key action (see keys.ts KEYMAP). */
export function createHandlers(c: ActionContext): Handlers {
  const s = c.state
  const move = (n: number) => () => {
    moveSelection(s, n)
    c.render()
  }

  const fetchOrPlay = async (play: boolean): Promise<void> => {
    if (s.focus === 'transfers') return transferAction(c, play ? 'play' : 'open')
    const item = selectedItem(s)
    if (!item) {
      c.say(s.listMode === 'library' ? 'the library is empty: press s to search the network, a to share files' : 'no result selected: press s to search', 'warn')
      return
    }
    if (item.dir) return play ? playAll(c) : browseInto(c, item)
    if (s.listMode === 'library') {
      const e = c.node.library.get(item.name)
      if (!play) return c.say(`${item.name} is in your library: ${e?.path ?? '?'}`)
      if (!e) return c.say(`${item.name} is no longer in your library`, 'warn')
      c.say(`playing ${item.name} from your library`)
      return c.playback.playFile(e.path, item.name, item.kind === 'audio')
    }
    const holder = item.holders[0] as string
    // Every holder in the row has the same content id: all are sources (swarm). The node's
    // DownloadManager owns the download: it is closed when the node stops (quit), also after a
    // cancel and a resume replaced it.
    const d = c.node.downloads.fetch(fetchRequest(c.node.downloadsDir, item))
    c.say(`${play ? 'fetching and playing' : 'fetching'} ${item.name} from ${d.sources.length > 1 ? `${d.sources.length} holders` : holder}`)
    d.start().then(
      (r) => c.say(`done: ${item.name}: ${item.contentId ? 'SHA-256 matches the content id' : `SHA-256 ${r.sha256.slice(0, 16)}... (legacy peer: no content id)`}; saved to ${r.path}`, 'ok'),
      (err) => c.say(`${item.name}: ${d.state === 'cancelled' ? 'cancelled' : `failed: ${msg(err)}`}`, d.state === 'cancelled' ? 'warn' : 'error')
    )
    if (play) await c.playback.playDownload(d, item.name, item.kind === 'audio')
  }

  // Enter acts on the focused pane.
  const activate = async (): Promise<void> => {
    if (s.focus === 'peers') return browseEntries(c)
    if (s.focus === 'log') {
      jumpSelection(s, 'last')
      return c.say('log: following the newest lines', 'info', false)
    }
    return fetchOrPlay(false)
  }

  return {
    add: () => prompt(c, 'add', 'Share a folder or file', ''),
    search: () => prompt(c, 'search', 'Search the network', s.search.query),
    rebuild: () => prompt(c, 'rebuild', 'Rebuild the peer list from peer host:port', selectedPeer(s)?.id ?? '', true),
    addPeer: () => prompt(c, 'join', 'Add a peer: host:port', ''),
    filter: () => prompt(c, 'filter', 'Filter the list (Esc clears)', s.filter),
    activate,
    fetch: () => fetchOrPlay(false),
    play: () => fetchOrPlay(true),
    playAll: () => playAll(c),
    browse: () => browseEntries(c),
    back: () => browseUp(c),
    sort: () => {
      s.sort = nextSortKey(s.sort)
      s.selected.items = 0
      c.say(`sorted by ${s.sort}`, 'info', false)
    },
    clear: () => {
      const n = clearFinished(s)
      c.say(n ? `cleared ${n} finished transfer${n === 1 ? '' : 's'}` : 'no finished, failed or cancelled transfers to clear', n ? 'ok' : 'warn', false)
    },
    home: () => {
      jumpSelection(s, 'first')
      c.render()
    },
    end: () => {
      jumpSelection(s, 'last')
      c.render()
    },
    stop: async () => {
      await c.playback.stop()
      c.say('mpv stopped')
    },
    next: async () => {
      await c.playback.next()
      c.say('next track')
    },
    volumeDown: async () => c.say(`volume ${await c.playback.volume(-VOLUME_STEP)}%`, 'info', false),
    volumeUp: async () => c.say(`volume ${await c.playback.volume(VOLUME_STEP)}%`, 'info', false),
    open: () => transferAction(c, 'open'),
    cancel: () => transferAction(c, 'cancel'),
    refresh: async () => {
      c.say(`refresh: checking ${s.peers.length} peers...`)
      const before = c.node.peers.size
      const dropped = await c.node.stabilize()
      c.say(`refresh: ${before - dropped.length} of ${before} peers alive${dropped.length ? `, dropped ${dropped.join(', ')}` : ''}`, dropped.length ? 'warn' : 'ok')
    },
    removePeer: () => {
      const p = selectedPeer(s)
      if (!p) return c.say('no peer selected (Tab to the peers pane, Up/Down to pick one)', 'warn')
      c.say(c.node.removePeer(p.id) ? `removed peer ${p.id}` : `${p.id} was already gone`, 'ok')
    },
    toggleList: () => {
      toggleListMode(s)
      c.say(s.listMode === 'library' ? `showing your library (${s.library.length} files)` : `showing results for "${s.search.query}" (${s.results.length})`, 'info', false)
    },
    nextPane: () => {
      cycleFocus(s, 1)
      c.say(`focus: ${s.focus}`, 'info', false)
    },
    prevPane: () => {
      cycleFocus(s, -1)
      c.say(`focus: ${s.focus}`, 'info', false)
    },
    up: move(-1),
    down: move(1),
    pageUp: move(-10),
    pageDown: move(10),
    togglePause: async () => c.say((await c.playback.togglePause()) ? 'paused' : 'playing'),
    seekBack: async () => c.say(`seek -5 s: at ${((await c.playback.seek(-5)) ?? 0).toFixed(1)} s`),
    seekForward: async () => c.say(`seek +5 s: at ${((await c.playback.seek(5)) ?? 0).toFixed(1)} s`),
    help: () => {
      s.help = !s.help
      c.say(s.help ? 'help: any key closes it' : 'help closed', 'info', false)
    },
    quit: () => {
      const running = s.transfers.filter((t) => t.state === 'downloading' || t.state === 'verifying' || t.state === 'queued').length
      if (!running) return c.quit()
      openPrompt(s, 'confirmQuit', `${running} transfer${running === 1 ? ' is' : 's are'} running: quit anyway? y / n`)
      c.say('quit? y quits (partial files stay for a resume), any other key goes back', 'warn', false)
    }
  }
}

function prompt(c: ActionContext, kind: PromptState['kind'], label: string, value: string, fresh = false): void {
  openPrompt(c.state, kind, label, value, fresh)
  c.say(`${label}: type, then Enter (Esc cancels)${fresh && value ? '; typing replaces the suggestion' : ''}`, 'info', false)
}

async function transferAction(c: ActionContext, what: 'play' | 'open' | 'cancel'): Promise<void> {
  const t = selectedTransfer(c.state)
  if (!t) return c.say('no transfer selected: fetch a result first (Enter or p on a result)', 'warn')
  const d = c.download(t.id)
  if (what === 'cancel') {
    if (!d || (t.state !== 'downloading' && t.state !== 'queued')) return c.say(`${t.name} is ${t.state}: nothing to cancel`, 'warn')
    d.cancel() // the DownloadManager closes its file when the node stops
    return c.say(`cancelling ${t.name} (the partial file stays for a resume)`, 'warn')
  }
  if (what === 'open') {
    if (t.path) return c.say(`${t.name}: ${t.path}`, 'ok')
    return c.say(`${t.name} is ${t.state}${t.error ? `: ${t.error}` : ''}; it has no final file yet`, 'warn')
  }
  if (t.path) {
    c.say(`playing ${t.path}`)
    return c.playback.playFile(t.path, t.name, t.kind === 'audio')
  }
  if (d && (t.state === 'downloading' || t.state === 'queued')) {
    c.say(`playing ${t.name} while it downloads`)
    return c.playback.playDownload(d, t.name, t.kind === 'audio')
  }
  c.say(`${t.name} is ${t.state}: nothing to play`, 'warn')
}

/**
 * Submit the open prompt's value: share a path, start a search, or join a peer.
 * The prompt is closed before the (background) work starts.
 */
export async function submitPrompt(c: ActionContext): Promise<void> {
  const s = c.state
  const p = s.prompt
  s.prompt = null
  if (!p) return
  const value = p.value.trim()
  if (p.kind === 'filter') {
    s.filter = value
    s.selected.items = 0
    return c.say(value ? `filter "${value}": Esc in the filter prompt, or / then Enter on an empty line, clears it` : 'filter cleared', 'info', false)
  }
  if (!value) return c.say(`${p.label}: nothing entered, cancelled`, 'warn')
  if (p.kind === 'add') {
    const dir = expandPath(value)
    c.say(`adding ${dir}...`)
    try {
      const added = await c.node.library.addShare(dir)
      c.say(`shared ${added.length} new file${added.length === 1 ? '' : 's'} from ${dir} (${c.node.library.size} in total; content ids are computed in the background)`, 'ok')
    } catch (err) {
      c.say(`cannot share ${dir}: ${msg(err)}`, 'error')
    }
    return
  }
  if (p.kind === 'search') {
    if (!c.node.peers.size) c.say(`no peers to ask: press b to join through a known peer`, 'warn')
    const h = c.node.search(value, c.search)
    startSearch(s, value)
    if (c.node.peers.size) c.say(`searching "${value}" on ${c.node.peers.size} peers...`)
    h.on('result', (r) => {
      addResult(s, r)
      c.render()
    })
    h.once('done', () => {
      finishSearch(s)
      const holders = new Set(s.results.flatMap((r) => r.holders)).size
      c.say(`search "${value}": ${s.results.length} result${s.results.length === 1 ? '' : 's'} from ${holders} holder${holders === 1 ? '' : 's'}`, s.results.length ? 'ok' : 'warn')
    })
    return
  }
  try {
    parsePeerId(value)
  } catch (err) {
    return c.say(`not a peer address (host:port): ${msg(err)}`, 'error')
  }
  const verb = p.kind === 'join' ? 'add peer' : 'rebuild'
  c.say(p.kind === 'join' ? `adding peer ${value}...` : `rebuilding the peer list from ${value}...`)
  try {
    const added = await c.node.join(value)
    c.say(`${p.kind === 'join' ? `added ${value}` : `rebuilt from ${value}`}: ${added} new peer${added === 1 ? '' : 's'}, ${c.node.peers.size} in total`, 'ok')
  } catch (err) {
    c.say(`cannot ${verb} ${value}: ${msg(err)}`, 'error')
  }
}

/** Tab in the add prompt: complete the path and show the candidates. */
export async function completePrompt(c: ActionContext): Promise<void> {
  const p = c.state.prompt
  if (!p || p.kind !== 'add') return c.say('Tab completes paths only in the add prompt')
  const r = await completePath(p.value)
  if (c.state.prompt !== p) return
  const changed = r.value !== p.value
  p.value = r.value
  p.hint = r.candidates.join('  ')
  c.say(r.candidates.length ? `${r.candidates.length} matches` : changed ? 'completed' : `no match for ${p.value || '(empty)'}`, changed || r.candidates.length ? 'info' : 'warn', false)
  c.render()
}
