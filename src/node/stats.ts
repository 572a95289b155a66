/** A node's counters, shared by its parts (search, downloads, uploads), for tests and the TUI. */

/** Counters since start; bytes are file data only. */
export interface NodeStats {
  searchesHandled: number
  searchesDuplicate: number
  legacyQueriesHandled: number
  hitsSent: number
  badInput: number
  /** Connections the node's server accepted (a neighbour link counts once however much it carries). */
  connectionsAccepted: number
  /** File bytes sent to and received from peers since start. */
  bytesUp: number
  bytesDown: number
}

/** All counters at zero. */
export function newStats(): NodeStats {
  return { searchesHandled: 0, searchesDuplicate: 0, legacyQueriesHandled: 0, hitsSent: 0, badInput: 0, connectionsAccepted: 0, bytesUp: 0, bytesDown: 0 }
}

/** Where a part writes its log lines (the node turns them into 'log' events). */
export type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void

export { errText } from '../protocol/errors.ts'
