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

/**
 * The words of a query that each add a condition: lower-cased, split on whitespace, duplicates
 * dropped, and a word that occurs inside another word dropped too (a name holding "holiday"
 * holds "day"); longest first. A hundred copies of "a" are one word.
 */
export function queryWords(q: string): string[] {
  const all = [...new Set(q.toLowerCase().split(/\s+/).filter(Boolean))].sort((a, b) => b.length - a.length)
  const out: string[] = []
  for (const w of all) if (!out.some((k) => k.includes(w))) out.push(w)
  return out
}

/** A work budget shared by the steps of one search: `work` grows, `budget` is the most it may reach. */
export interface WorkMeter {
  work: number
  budget: number
}

/** Vocabulary characters one work unit of a scan covers (a scan is an indexOf over the whole vocabulary). */
const SCAN_CHARS_PER_UNIT = 1024

/** token → items holding it. */
export class TokenIndex<T> {
  private readonly postings = new Map<string, Set<T>>()
  /**
   * The vocabulary as one string, "\ntoken\ntoken\n": a query word is found in it with indexOf
   * (a fast native scan), so only the tokens that hold the word cost a step. Rebuilt lazily
   * after tokens come and go.
   */
  private text: string | null = null
  /** Per token of `text`, in order: where it starts, and its postings. */
  private starts = new Int32Array(0)
  private sets: Set<T>[] = []

  /** Distinct tokens. */
  get size(): number {
    return this.postings.size
  }

  add(item: T, tokens: string[]): void {
    for (const tok of tokens) {
      let set = this.postings.get(tok)
      if (!set) {
        this.postings.set(tok, (set = new Set()))
        this.text = null
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
        this.text = null
      }
    }
  }

  /**
   * Items that may match every query token (a superset of the matches): the postings of the
   * query token whose matching vocabulary is smallest. An item may come more than once.
   * Work, counted on `meter`: one unit per SCAN_CHARS_PER_UNIT characters of vocabulary scanned
   * and one per vocabulary token that holds a query token. Once the budget is spent the scan
   * stops: with a query token already scanned in full its postings are still a superset;
   * otherwise what was found so far is returned with `partial` (not every match is in it).
   * @returns items null when there are no query tokens (the caller must scan everything).
   */
  candidates(queryTokens: string[], meter: WorkMeter = { work: 0, budget: Infinity }): { items: Iterable<T> | null; partial: boolean } {
    const tokens = queryWords(queryTokens.join(' '))
    if (!tokens.length) return { items: null, partial: false }
    const text = this.vocabulary()
    const scanCost = Math.ceil(text.length / SCAN_CHARS_PER_UNIT)
    let best: Set<T>[] | null = null
    let bestCount = Infinity
    let partial = false
    for (const q of tokens) {
      const lists: Set<T>[] = []
      let count = 0
      let cut = (meter.work += scanCost) > meter.budget
      // Tokens hold no "\n": a match lies inside one token; go on after that token's end.
      for (let at = cut ? -1 : text.indexOf(q, 1); at !== -1;) {
        if (meter.work++ >= meter.budget) {
          cut = true
          break
        }
        const i = this.tokenAt(at)
        const s = this.sets[i] as Set<T>
        lists.push(s)
        count += s.size
        if (count >= bestCount) break
        // The next token starts after this one's "\n".
        at = i + 1 < this.sets.length ? text.indexOf(q, this.starts[i + 1]) : -1
      }
      if (cut) {
        // Out of budget inside this token's scan: its lists are not complete.
        if (!best) {
          best = lists
          partial = true
        }
        break
      }
      if (count < bestCount) {
        best = lists
        bestCount = count
      }
      if (count === 0) return { items: [], partial: false }
    }
    if (!best) return { items: [], partial }
    if (best.length === 1) return { items: best[0] as Set<T>, partial }
    return { items: chain(best), partial }
  }

  /** The vocabulary string, with the start offset and postings of each token (built when stale). */
  private vocabulary(): string {
    if (this.text !== null) return this.text
    const parts: string[] = ['']
    this.starts = new Int32Array(this.postings.size)
    this.sets = []
    let at = 1
    let i = 0
    for (const [tok, set] of this.postings) {
      this.starts[i++] = at
      this.sets.push(set)
      parts.push(tok)
      at += tok.length + 1
    }
    parts.push('')
    return (this.text = parts.join('\n'))
  }

  /** Index of the token holding character `at` of the vocabulary string (binary search of the starts). */
  private tokenAt(at: number): number {
    let lo = 0
    let hi = this.sets.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.starts[mid] as number) <= at) lo = mid
      else hi = mid - 1
    }
    return lo
  }
}

/** Iterate several sets in turn (an item in two sets comes twice: callers de-duplicate). */
function* chain<T>(sets: Set<T>[]): Generator<T> {
  for (const s of sets) yield* s
}
