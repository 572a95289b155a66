/**
 * Inverted index from name tokens to items, for the tracker's keyword search (PROTOCOL.md §7.7).
 * A query word matches as a substring (as a node's own search does), so a word selects every
 * token that contains it; the index only narrows the candidates, the caller checks each one.
 */

/** Lower-case words of a name: runs of letters and digits. */
export function tokenize(text: string): string[] {
  const out = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
  return out.length > 1 ? [...new Set(out)] : out
}

/** token → items holding it. */
export class TokenIndex<T> {
  private readonly postings = new Map<string, Set<T>>()
  /** Vocabulary as an array for fast scans; rebuilt lazily after tokens come and go. */
  private vocab: string[] | null = null

  /** Distinct tokens. */
  get size(): number {
    return this.postings.size
  }

  add(item: T, tokens: string[]): void {
    for (const tok of tokens) {
      let set = this.postings.get(tok)
      if (!set) {
        this.postings.set(tok, (set = new Set()))
        this.vocab = null
      }
      set.add(item)
    }
  }

  remove(item: T, tokens: string[]): void {
    for (const tok of tokens) {
      const set = this.postings.get(tok)
      if (!set) continue
      set.delete(item)
      if (!set.size) {
        this.postings.delete(tok)
        this.vocab = null
      }
    }
  }

  /**
   * Items that may match every query token (a superset of the matches): the postings of the
   * query token whose matching vocabulary is smallest. An item may come more than once.
   * @returns null when there are no query tokens (the caller must scan everything).
   */
  candidates(queryTokens: string[]): Iterable<T> | null {
    if (!queryTokens.length) return null
    const vocab = (this.vocab ??= [...this.postings.keys()])
    let best: Set<T>[] | null = null
    let bestCount = Infinity
    for (const q of queryTokens) {
      const exact = this.postings.get(q)
      const lists: Set<T>[] = []
      let count = 0
      for (const tok of vocab) {
        if (tok.length < q.length || (tok !== q && !tok.includes(q))) continue
        const s = tok === q ? exact : this.postings.get(tok)
        if (!s) continue
        lists.push(s)
        count += s.size
        if (count >= bestCount) break
      }
      if (count < bestCount) {
        best = lists
        bestCount = count
      }
      if (count === 0) return []
    }
    if (!best) return []
    if (best.length === 1) return best[0] as Set<T>
    return chain(best)
  }
}

/** Iterate several sets in turn (an item in two sets comes twice: callers de-duplicate). */
function* chain<T>(sets: Set<T>[]): Generator<T> {
  for (const s of sets) yield* s
}
