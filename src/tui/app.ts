/**
 * The TUI app: wires node events into the state (state.ts), keys into actions (keys.ts,
 * actions.ts), and renders the state through the views at most 10 times a second
 * (STYLE.md "TUI"). Owns the blessed screen, the mpv player and the render/rate timers;
 * quit() closes mpv, stops the node (QUIT to peers; its DownloadManager cancels and closes every
 * download the TUI started) and restores the terminal.
 */
import { reachSummary } from '../app/node-discovery.ts'
import blessed, { type Widgets } from 'blessed'
import type { Download } from '../node/download.ts'
import type { P2PNode } from '../app/node.ts'
import { completePrompt, createHandlers, submitPrompt, type ActionContext } from './actions.ts'
import { Dispatcher, KEYMAP } from './keys.ts'
import { createLayout, placePanes, type Layout } from './layout.ts'
import { Playback } from './playback.ts'
import { addUpload, clampSelection, initialState, promptKey, pushLog, setLibrary, setPeers, setStatus, updatePlayback, type StatusLevel, type TuiState } from './state.ts'
import { tickRates, updateTransfer } from './transfers-state.ts'
import { renderBars } from './views/bars.ts'
import { teachEmojiWidth, type ViewOptions } from './views/common.ts'
import { renderItems } from './views/items.ts'
import { renderLog } from './views/log.ts'
import { renderHelp, renderPrompt } from './views/overlays.ts'
import { renderPeers } from './views/peers.ts'
import { renderTransfers } from './views/transfers.ts'
import { errText } from '../protocol/errors.ts'

/** TUI options. Times in ms. */
export interface TuiOptions {
  /** Peers to join at start (--peer), in the background. */
  peers: string[]
  /** Show debug log lines. */
  verbose: boolean
  color: boolean
  search: { ttl: number; timeoutMs: number }
  playerArgs: string[]
  /** Shortest time between two renders (default 100: at most 10 per second). */
  renderIntervalMs?: number
}

export class TuiApp {
  readonly state: TuiState
  private screen: Widgets.Screen | null = null
  private layout: Layout | null = null
  private readonly playback: Playback
  private readonly downloads = new Map<number, Download>()
  private nextTransferId = 1
  private libraryDirty = true
  private renderTimer: NodeJS.Timeout | null = null
  private lastRender = 0
  private ticker: NodeJS.Timeout | null = null
  private readonly view: ViewOptions
  private resolveExit!: () => void
  /** Resolves once the app has quit and the terminal is restored. */
  readonly exited = new Promise<void>((r) => (this.resolveExit = r))
  /** Closed on quit after mpv, before the node stops (the web page: cli/web-option.ts). */
  private readonly closers: Array<() => Promise<void>> = []

  constructor(
    private readonly node: P2PNode,
    private readonly opts: TuiOptions
  ) {
    this.state = initialState()
    this.view = { color: opts.color }
    this.playback = new Playback({
      playerArgs: opts.playerArgs,
      onUpdate: (p) => {
        updatePlayback(this.state, p)
        this.scheduleRender()
      },
      log: (level, msg) => this.onLog(level, msg)
    })
  }

  /** Open the screen, start the node, join the --peer addresses (background). @throws the node's start error. */
  async start(): Promise<void> {
    teachEmojiWidth()
    const screen = blessed.screen({ smartCSR: true, fullUnicode: true, title: 'p2ptube', warnings: false, autoPadding: false })
    // In a UTF-8 locale draw borders with Unicode box characters, not the DEC line-drawing set
    // (what ncurses does under NCURSES_NO_UTF8_ACS=1): tmux and screen render both, but only
    // Unicode survives copy/paste and `tmux capture-pane`.
    const tput = (screen as unknown as { tput: { unicode: boolean; brokenACS: boolean } }).tput
    if (tput.unicode && process.env.NCURSES_NO_UTF8_ACS === undefined) tput.brokenACS = true
    this.screen = screen
    this.layout = createLayout(screen, this.opts.color)
    const ctx = this.actionContext()
    const dispatcher = new Dispatcher(createHandlers(ctx), (action, err) => this.say(`${action}: ${errText(err)}`, 'error'))
    screen.on('keypress', (ch: string | undefined, key: Widgets.Events.IKeyEventArg) => this.onKey(ch, key, dispatcher, ctx))
    screen.on('resize', () => {
      if (this.layout) placePanes(this.layout, screen.width as number, screen.height as number)
      this.renderNow()
    })
    this.wireNode()
    setStatus(this.state, 'starting the node...')
    this.renderNow()
    try {
      await this.node.start()
    } catch (err) {
      screen.destroy()
      throw err
    }
    this.state.node.id = this.node.id
    this.state.node.bytesUp = this.node.stats.bytesUp
    this.state.node.bytesDown = this.node.stats.bytesDown
    setPeers(this.state, this.node.peers.list())
    // The node logs "listening as ..." itself: status line only.
    this.say(`listening as ${this.node.id}, sharing ${this.node.library.size} files - press ? for help`, 'ok', false)
    this.ticker = setInterval(() => this.tick(), 1000)
    void this.joinPeers()
  }

  /** Join the --peer addresses one after the other (so each count is its own), in the background. */
  private async joinPeers(): Promise<void> {
    for (const p of this.opts.peers) {
      if (this.state.quitting) return
      try {
        const n = await this.node.join(p)
        this.say(`joined through ${p}: ${n} new peer${n === 1 ? '' : 's'}`, 'ok')
      } catch (err) {
        this.say(`cannot join ${p}: ${errText(err)}`, 'warn')
      }
    }
  }

  /** Quit cleanly: mpv closed, QUIT sent to every peer, every download closed, terminal restored. Idempotent. */
  async quit(): Promise<void> {
    if (this.state.quitting) return this.exited
    this.state.quitting = true
    setStatus(this.state, 'quitting: sending QUIT to peers, closing mpv...', 'warn')
    this.renderNow()
    if (this.ticker) clearInterval(this.ticker)
    if (this.renderTimer) clearTimeout(this.renderTimer)
    this.renderTimer = null
    // mpv first: it reads from downloads, which the node's stop then closes (node.downloads).
    await this.playback.close().catch(() => {})
    for (const close of this.closers) await close().catch(() => {})
    await this.node.stop().catch(() => {})
    this.screen?.destroy()
    this.screen = null
    this.resolveExit()
  }

  /**
   * Show a line in the log pane (and the status line) from outside the app: what the command
   * started beside it, e.g. the web page's URL and login token.
   */
  note(text: string, level: StatusLevel = 'info'): void {
    this.say(text, level)
  }

  /** Run `close` on quit, after mpv is closed and before the node stops (a server over the node). */
  closeOnQuit(close: () => Promise<void>): void {
    this.closers.push(close)
  }

  private actionContext(): ActionContext {
    return {
      state: this.state,
      node: this.node,
      playback: this.playback,
      download: (id) => this.downloads.get(id),
      say: (text, level, log) => this.say(text, level, log),
      render: () => this.scheduleRender(),
      quit: () => this.quit(),
      search: this.opts.search
    }
  }

  private onKey(ch: string | undefined, key: Widgets.Events.IKeyEventArg, dispatcher: Dispatcher, ctx: ActionContext): void {
    // blessed emits 'return' and then 'enter' for one press of Enter: act on 'enter' only.
    if (!key || key.name === 'return' || this.state.quitting) return
    const full = key.full
    if (KEYMAP.quit.keys.includes(full) && full.startsWith('C-')) {
      void this.quit()
      return
    }
    const s = this.state
    if (s.prompt?.kind === 'confirmQuit') {
      s.prompt = null
      if (ch === 'y' || ch === 'Y') void this.quit()
      else this.say('not quitting', 'info', false)
      return
    }
    if (s.prompt) {
      const filtering = s.prompt.kind === 'filter' ? s.prompt : null
      const r = promptKey(s, ch, full)
      // The filter applies as it is typed; Esc clears it.
      if (filtering) {
        s.filter = r === 'cancel' ? '' : filtering.value.trim()
        s.selected.items = 0
        clampSelection(s)
      }
      if (r === 'submit') void submitPrompt(ctx).catch((err) => this.say(errText(err), 'error'))
      else if (r === 'complete') void completePrompt(ctx).catch((err) => this.say(errText(err), 'error'))
      else if (r === 'cancel') {
        s.prompt = null
        this.say('cancelled', 'info', false)
      }
      this.scheduleRender()
      return
    }
    if (s.help && !KEYMAP.quit.keys.includes(full)) {
      s.help = false
      this.say('help closed', 'info', false)
      return
    }
    if (!dispatcher.dispatch(full)) this.say(`${ch && ch.length === 1 && ch > ' ' ? ch : full}: no such key (press ? for help)`, 'warn', false)
    this.scheduleRender()
  }

  private wireNode(): void {
    const n = this.node
    const peersChanged = (): void => {
      setPeers(this.state, n.peers.list())
      this.scheduleRender()
    }
    n.on('log', (l: { level: string; msg: string }) => this.onLog(l.level, l.msg))
    n.on('peer-added', peersChanged)
    n.on('peer-removed', peersChanged)
    n.on('download', (d: Download) => this.track(d))
    // Who took what from this node (the transfers summary).
    n.on('upload', (u: { peer: string; name: string; bytes: number }) => {
      addUpload(this.state, u)
      this.scheduleRender()
    })
    // How peers reach this node (port mapping, the tracker's dial-back check): in the header.
    const reachChanged = (): void => {
      this.state.node.reach = reachSummary(n.identity.mapped, n.reach.reachability)
      this.scheduleRender()
    }
    n.on('port-mapping', reachChanged)
    n.on('reachability', reachChanged)
    const libraryChanged = (): void => {
      this.libraryDirty = true
      this.scheduleRender()
    }
    n.library.on('added', libraryChanged)
    n.library.on('hashed', libraryChanged)
    n.library.on('removed', libraryChanged)
  }

  /** A new download: give it a row and follow its progress. */
  private track(d: Download): void {
    const id = this.nextTransferId++
    this.downloads.set(id, d)
    const update = (): void => {
      updateTransfer(this.state, id, { name: d.name, state: d.state, size: d.size, received: d.received, holder: d.opts.holder.id, sources: d.sources, error: d.error, result: d.result })
      this.scheduleRender()
    }
    d.on('progress', update)
    d.on('state', update)
    d.on('done', update)
    update()
  }

  /** Once a second: rates, peers' last-seen ages, transfer speeds of stalled downloads. */
  private tick(): void {
    tickRates(this.state, this.node.stats)
    setPeers(this.state, this.node.peers.list())
    for (const [id, d] of this.downloads) {
      if (d.state === 'downloading') updateTransfer(this.state, id, { name: d.name, state: d.state, size: d.size, received: d.received, holder: d.opts.holder.id, sources: d.sources })
    }
    this.scheduleRender()
  }

  private onLog(level: string, msg: string): void {
    if (level === 'debug' && !this.opts.verbose) return
    pushLog(this.state, level, msg)
    this.scheduleRender()
  }

  /** Status line, and the same text in the log unless `log` is false (hints, prompts). */
  private say(text: string, level: StatusLevel = 'info', log = true): void {
    setStatus(this.state, text, level)
    if (log) pushLog(this.state, level === 'ok' ? 'info' : level, text)
    this.scheduleRender()
  }

  /** Render soon, at most once per renderIntervalMs. */
  private scheduleRender(): void {
    if (this.renderTimer || !this.screen) return
    const wait = Math.max(0, this.lastRender + (this.opts.renderIntervalMs ?? 100) - Date.now())
    this.renderTimer = setTimeout(() => {
      this.renderTimer = null
      this.renderNow()
    }, wait)
  }

  private renderNow(): void {
    const screen = this.screen
    const l = this.layout
    if (!screen || !l) return
    this.lastRender = Date.now()
    if (this.libraryDirty) {
      this.libraryDirty = false
      setLibrary(this.state, this.node.library.entries())
    }
    const s = this.state
    renderBars(l, s, this.view)
    renderItems(l.items, s, this.view)
    renderPeers(l.peers, s, this.view)
    renderTransfers(l.transfers, s, this.view)
    renderLog(l.log, s, this.view)
    renderHelp(l.help, s, this.view)
    renderPrompt(l.prompt, s, this.view)
    screen.render()
  }
}
