/**
 * Keys are data (STYLE.md "TUI"): one map action → keys, one dispatcher, and the footer and help
 * text are generated from the same map. Key names are blessed's `key.full` ("q", "C-c", "enter",
 * "S-tab", "space", "left").
 */

/** Everything a key can do. */
export type Action =
  | 'add'
  | 'search'
  | 'fetch'
  | 'play'
  | 'open'
  | 'refresh'
  | 'rebuild'
  | 'removePeer'
  | 'cancel'
  | 'toggleList'
  | 'nextPane'
  | 'prevPane'
  | 'up'
  | 'down'
  | 'pageUp'
  | 'pageDown'
  | 'togglePause'
  | 'seekBack'
  | 'seekForward'
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

/** The key map. Order is the footer's and the help's order. Help lines fit 80 columns. */
export const KEYMAP: Record<Action, Binding> = {
  add: { keys: ['a'], footer: 'add', help: 'share a folder or file (path prompt, Tab completes)' },
  search: { keys: ['s', '/'], footer: 'search', help: 'search the network (query prompt)' },
  fetch: { keys: ['enter', 'f'], footer: 'fetch', help: 'fetch the selected result (transfers: show path)' },
  play: { keys: ['p'], footer: 'play', help: 'fetch and play in mpv (transfers: play it)' },
  open: { keys: ['o'], help: 'show where a finished transfer was saved' },
  refresh: { keys: ['r'], footer: 'refresh', help: 'check which peers are alive, drop the others' },
  rebuild: { keys: ['b'], footer: 'rebuild', help: 'rebuild the peer list from a known peer' },
  removePeer: { keys: ['d'], footer: 'del peer', help: 'remove the selected peer' },
  cancel: { keys: ['x'], footer: 'cancel', help: 'cancel the selected transfer (resumable)' },
  toggleList: { keys: ['l'], footer: 'lib/res', help: 'list your library / the search results' },
  nextPane: { keys: ['tab'], footer: 'pane', help: 'next / previous pane', helpKeys: 'Tab / S-Tab' },
  prevPane: { keys: ['S-tab'] },
  up: { keys: ['up', 'k'], help: 'move the selection (log pane: scroll)', helpKeys: 'Up Down k j PgUp PgDn' },
  down: { keys: ['down', 'j'] },
  pageUp: { keys: ['pageup'] },
  pageDown: { keys: ['pagedown'] },
  togglePause: { keys: ['space'], footer: 'pause', help: 'pause / resume playback' },
  seekBack: { keys: ['left'], help: 'seek back / forward 5 s', helpKeys: 'Left / Right' },
  seekForward: { keys: ['right'] },
  help: { keys: ['?'], footer: 'help', help: 'show / hide this help' },
  quit: { keys: ['q', 'C-c'], footer: 'quit', help: 'quit (QUIT sent to peers, mpv closed)' }
}

// ASCII only: the UI must read right in any terminal and locale.
const DISPLAY: Record<string, string> = { enter: 'Enter', tab: 'Tab', 'S-tab': 'S-Tab', space: 'Space', left: 'Left', right: 'Right', up: 'Up', down: 'Down', pageup: 'PgUp', pagedown: 'PgDn' }

/** How a key name is shown to people ("enter" → "Enter"). */
export function displayKey(k: string): string {
  return DISPLAY[k] ?? k
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

/** The footer: "? help  q quit  a add  s search ...", cut to `width` columns (help and quit first, so they always show). */
export function footerText(width: number, map: Record<Action, Binding> = KEYMAP): string {
  const first: Action[] = ['help', 'quit']
  const order = [...first, ...(Object.keys(map) as Action[]).filter((a) => !first.includes(a))]
  const parts: string[] = []
  for (const a of order) {
    const b = map[a]
    if (!b.footer) continue
    parts.push(`${displayKey(b.keys[0] as string)} ${b.footer}`)
  }
  parts.push('Left/Right seek')
  let out = ''
  for (const p of parts) {
    const next = out ? `${out}  ${p}` : p
    if (next.length > width) break
    out = next
  }
  return out
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
