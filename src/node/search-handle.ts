/** An open flood search as its caller sees it: results, options, and the legacy key of a query. */
import { EventEmitter } from 'node:events'
import type { MediaMeta } from '../protocol/media-meta.ts'

/** One search result. `contentId` and `size` are null for answers from a legacy peer. */
export interface SearchResult {
  qid: string
  name: string
  size: number | null
  contentId: string | null
  kind: string | null
  holder: string
  legacy: boolean
  /** The holder is reached through a relay (the tracker said so, PROTOCOL.md §10.6). */
  via?: 'relay'
  /** Tags, duration and format the holder sent (PROTOCOL.md §4.3), if any. */
  meta?: MediaMeta
  /** The holder matched this many in all but sent fewer (its cap of 100, or the HITS size). */
  holderTotal?: number
}

/** An open search. Events: 'result' (SearchResult), 'done' (SearchResult[]). */
export class SearchHandle extends EventEmitter {
  readonly results: SearchResult[] = []
  done = false
  /** Resolves with every result when the search times out (or the node stops). */
  readonly finished: Promise<SearchResult[]>
  constructor(
    readonly qid: string,
    readonly query: string,
    /** Word sent to legacy peers (they match one case-sensitive key). */
    readonly legacyKey: string,
    readonly cid: string | undefined
  ) {
    super()
    this.finished = new Promise((resolve) => this.once('done', resolve))
  }
}

/** Search options; times in ms. */
export interface SearchOptions {
  /** Hops the query may travel (default 4, capped at 7). */
  ttl?: number
  /** When the handle is done at the latest (default 3000). */
  timeoutMs?: number
  /**
   * End early once answers stop: after a result, the search ends when nothing new came for as
   * long as the first `elapsed` ms took, and at least `untilQuietMs` (one-shot `search`, `fetch`).
   * Without results it runs to `timeoutMs`.
   */
  untilQuietMs?: number
  /** Find holders of this content id instead of names. */
  cid?: string
}

/**
 * The one key a legacy peer can match (it takes a single whitespace-free word): the longest word
 * of the query, the last of equally long ones (people type general → specific).
 */
export function legacyKeyOf(query: string): string {
  return query
    .split(/\s+/)
    .filter(Boolean)
    .reduce((a, b) => (b.length >= a.length ? b : a), '')
}
