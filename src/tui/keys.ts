/**
 * Keys are data (STYLE.md "TUI"): one map action → keys, one dispatcher, and the footer and help
 * text are generated from the same map. Key names are blessed's `key.full` ("q", "C-c", "enter",
 * "S-tab", "space", "left"; a capital letter is "S-p").
 */

/** Everything a key can do. */
export type Action =
  | 'add'
  | 'search'
  | 'filter'
  | 'activate'
  | 'fetch'
  | 'play'
  | 'playAll'
  | 'browse'
  | 'back'
  | 'sort'
  | 'open'
  | 'refresh'
  | 'rebuild'
  | 'addPeer'
  | 'removePeer'
  | 'cancel'
  | 'clear'
  | 'toggleList'
  | 'nextPane'
  | 'prevPane'
  | 'up'
  | 'down'
  | 'pageUp'
  | 'pageDown'
  | 'home'
  | 'end'
  | 'togglePause'
  | 'seekBack'
  | 'seekForward'
  | 'stop'
  | 'next'
  | 'volumeDown'
  | 'volumeUp'
  | 'help'
  | 'quit'

/**
 * One binding: the keys, the short footer label (none = not in the footer) and the help line
 * (none = covered by a neighbour's line; `helpKeys` then names them all).
 */
export interface Binding {
  keys: string[]
  footer?: string
  help?: string
  helpKeys?: string
}

/**
 * The key map. Order is the footer's and the help's order. Help lines fit 80 columns and 18
 * lines (a 24-line screen); the footer shows every labelled key on two lines at 80 columns.
 */
export const KEYMAP: Record<Action, Binding> = {
  add: { keys: ['a'], footer: 'add', help: 'share a folder or file (path prompt, Tab completes)' },
  search: { keys: ['s'], footer: 'search', help: 'search the network / filter this list (Esc clears)', helpKeys: 's / /' },
  filter: { keys: ['/'], footer: 'filter' },
  activate: { keys: ['enter'], footer: 'act', help: 'act on the pane: fetch, enter a folder, browse a peer', helpKeys: 'Enter' },
  fetch: { keys: ['f'], footer: 'fetch', help: 'fetch the selected result (transfers: show path)' },
  play: { keys: ['p'], footer: 'play', help: 'play the selection / the whole list or album in order', helpKeys: 'p / P' },
  playAll: { keys: ['S-p'], footer: 'all' },
  browse: { keys: ['S-b'], footer: 'browse', help: "browse the selected peer's library / up a level", helpKeys: 'B / Backspace' },
  back: { keys: ['backspace'] },
  sort: { keys: ['S-o'], footer: 'sort', help: 'sort by name, artist, album, duration, size' },
  open: { keys: ['o'], help: 'show where a finished transfer was saved' },
  refresh: { keys: ['r'], footer: 'refresh', help: 'refresh: drop dead peers / rebuild from a peer', helpKeys: 'r / b' },
  rebuild: { keys: ['b'], footer: 'rebuild' },
  addPeer: { keys: ['c'], footer: '+peer', help: 'add a peer (host:port) / remove the selected peer', helpKeys: 'c / d' },
  removePeer: { keys: ['d'], footer: '-peer' },
  cancel: { keys: ['x'], footer: 'cancel', help: 'cancel the selected transfer / clear finished rows', helpKeys: 'x / C' },
  clear: { keys: ['S-c'], footer: 'clear' },
  toggleList: { keys: ['l'], footer: 'lib/res', help: 'list your library / the search results' },
  nextPane: { keys: ['tab'], footer: 'pane', help: 'next / previous pane', helpKeys: 'Tab / S-Tab' },
  prevPane: { keys: ['S-tab'] },
  up: { keys: ['up', 'k'], help: 'move (log pane: scroll); Home / End: first / last', helpKeys: 'Up Down PgUp PgDn' },
  down: { keys: ['down', 'j'] },
  pageUp: { keys: ['pageup'] },
  pageDown: { keys: ['pagedown'] },
  home: { keys: ['home', 'g'] },
  end: { keys: ['end', 'S-g'] },
  togglePause: { keys: ['space'], footer: 'pause', help: 'pause / resume; Left / Right: seek 5 s', helpKeys: 'Space Left Right' },
  seekBack: { keys: ['left'] },
  seekForward: { keys: ['right'] },
  stop: { keys: ['S-s'], footer: 'stop', help: 'stop mpv / next track / volume down, up', helpKeys: 'S > - +' },
  next: { keys: ['>', 'S-n'], footer: 'next' },
  volumeDown: { keys: ['-', '9'] },
  volumeUp: { keys: ['+', '=', '0'] },
  help: { keys: ['?'], footer: 'help', help: 'show / hide this help' },
  quit: { keys: ['q', 'C-c'], footer: 'quit', help: 'quit (asks first while transfers run)' }
}

// ASCII only: the UI must read right in any terminal and locale.
const DISPLAY: Record<string, string> = {
  backspace: 'Backspace',
  home: 'Home',
  end: 'End',
  enter: 'Enter',
  tab: 'Tab',
  'S-tab': 'S-Tab',
  space: 'Space',
  left: 'Left',
  right: 'Right',
  up: 'Up',
  down: 'Down',
  pageup: 'PgUp',
  pagedown: 'PgDn'
}

/** How a key name is shown to people ("enter" → "Enter"). */
export function displayKey(k: string): string {
  // blessed names a capital letter "S-<letter>": show the letter as typed.
  return DISPLAY[k] ?? (/^S-[a-z]$/.test(k) ? k.slice(2).toUpperCase() : k)
}

/** Reverse index key → action. @throws Error when two actions share a key (a bug in the map). */
export function indexKeys(map: Record<Action, Binding> = KEYMAP): Map<string, Action> {
  const idx = new Map<string, Action>()
  for (const [action, b] of Object.entries(map) as Array<[Action, Binding]>) {
    for (const k of b.keys) {
      if (idx.has(k)) throw new Error(`key ${k} is bound to both ${idx.get(k)} and ${action}`)
      idx.set(k, action)
    }
  }
  return idx
}

/**
 * The footer: "?:help q:quit a:add s:search ...", every labelled key, packed onto lines of
 * `width` columns (help and quit first). When they need more than `lines` lines, the last line
 * rotates through the overflow: `page` (e.g. a clock tick) picks which one shows, so every key
 * shows within a few seconds. At 80 columns: one fixed line and a second that alternates.
 */
export function footerLines(width: number, lines = 2, page = 0, map: Record<Action, Binding> = KEYMAP): string[] {
  const first: Action[] = ['help', 'quit']
  const order = [...first, ...(Object.keys(map) as Action[]).filter((a) => !first.includes(a))]
  const parts: string[] = []
  for (const a of order) {
    const b = map[a]
    if (!b.footer) continue
    parts.push(`${displayKey(b.keys[0] as string)}:${b.footer}`)
  }
  parts.push('-/+:vol', 'Left/Right:seek')
  const packed: string[] = ['']
  for (const p of parts) {
    const cur = packed[packed.length - 1] as string
    const next = cur ? `${cur} ${p}` : p
    if (next.length <= width) packed[packed.length - 1] = next
    else packed.push(p.slice(0, width))
  }
  if (packed.length <= lines) return packed
  const rest = packed.slice(lines - 1)
  const shown = rest[((page % rest.length) + rest.length) % rest.length] as string
  return [...packed.slice(0, lines - 1), shown]
}

/** Pages the footer rotates through at `width` columns on `lines` lines (1 when all fit). */
export function footerPages(width: number, lines = 2): number {
  const all = footerLines(width, 1000)
  return Math.max(1, all.length - lines + 1)
}

/** The footer on one line of `width` columns (footerLines with one line). */
export function footerText(width: number, map: Record<Action, Binding> = KEYMAP): string {
  return footerLines(width, 1, 0, map)[0] as string
}

/** Help lines: "a                      share a folder ...". */
export function helpLines(map: Record<Action, Binding> = KEYMAP): string[] {
  return Object.values(map)
    .filter((b) => b.help)
    .map((b) => `${(b.helpKeys ?? b.keys.map(displayKey).join(' / ')).padEnd(21)} ${b.help}`)
}

/** Handlers per action; each may be async (a rejection is reported via onError). */
export type Handlers = Partial<Record<Action, () => void | Promise<void>>>

/**
 * The one dispatcher: a key name → its action's handler. Unbound keys are ignored and reported
 * as false (so the app can say "unknown key" on the status line).
 */
export class Dispatcher {
  private readonly index: Map<string, Action>
  constructor(
    private readonly handlers: Handlers,
    private readonly onError: (action: Action, err: unknown) => void,
    map: Record<Action, Binding> = KEYMAP
  ) {
    this.index = indexKeys(map)
  }

  /** The action bound to a key name, if any. */
  actionOf(key: string): Action | undefined {
    return this.index.get(key)
  }

  /** Run the handler for `key`. @returns the action run, or undefined for an unbound key. */
  dispatch(key: string): Action | undefined {
    const action = this.index.get(key)
    if (!action) return undefined
    const h = this.handlers[action]
    if (!h) return action
    try {
      const r = h()
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch((err) => this.onError(action, err))
    } catch (err) {
      this.onError(action, err)
    }
    return action
  }
}
