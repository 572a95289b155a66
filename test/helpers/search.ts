/**
 * Waiting for search answers by event, not by window: `firstResult(node.search(...))` resolves
 * with the first answer that matches as soon as it arrives, instead of "search with an 800 ms
 * window, then take [0]" (which fails when the machine is too busy to answer within the window).
 */
import type { SearchHandle, SearchResult } from '../../src/app/node.ts'
import { slow } from './slow.ts'

/** A search's time bound for firstResult: only a failing test waits for it, ms. */
export const SEARCH_BOUND_MS = slow(15_000)

/**
 * The first result of `h` that `match` accepts, as soon as it arrives.
 * @throws Error when the search ends (its timeoutMs) without one.
 */
export function firstResult(h: SearchHandle, match: (r: SearchResult) => boolean = () => true): Promise<SearchResult> {
  return new Promise((resolve, reject) => {
    const seen = h.results.find(match)
    if (seen) return resolve(seen)
    h.on('result', (r: SearchResult) => match(r) && resolve(r))
    void h.finished.then((all) => {
      const hit = all.find(match)
      if (hit) resolve(hit)
      else reject(new Error(`the search ended with ${all.length} results, none matching`))
    })
  })
}

/**
 * The first `n` results of `h`, as soon as they arrived.
 * @throws Error when the search ends with fewer.
 */
export function nResults(h: SearchHandle, n: number): Promise<SearchResult[]> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => (h.results.length >= n ? (resolve(h.results.slice(0, n)), true) : false)
    if (check()) return
    h.on('result', check)
    void h.finished.then((all) => (all.length >= n ? resolve(all.slice(0, n)) : reject(new Error(`the search ended with ${all.length} of ${n} results`))))
  })
}
