/** What the TUI's key actions (actions.ts, browse-actions.ts) get from the app (app.ts). */
import type { P2PNode } from '../app/node.ts'
import type { Download } from '../node/download.ts'
import type { Playback } from './playback.ts'
import type { StatusLevel, TuiState } from './state.ts'

/** What the actions need from the app. */
export interface ActionContext {
  state: TuiState
  node: P2PNode
  playback: Playback
  /** Download of a transfer row id. */
  download(id: number): Download | undefined
  /** Status line, and a log line unless `log` is false (hints). */
  say(text: string, level?: StatusLevel, log?: boolean): void
  render(): void
  quit(): Promise<void>
  search: { ttl: number; timeoutMs: number }
}
