/**
 * The one lifecycle and cancellation contract a node's parts share (STYLE.md "Dependencies and
 * lifecycle"): one AbortSignal that every outgoing request carries, the timers, and the work in
 * flight. `stop()` clears the timers first, then aborts the signal, so nothing new starts and
 * nothing in flight outlives the node: requests end at once with AbortError instead of running
 * to their idle timeout.
 */
import { setMaxListeners } from 'node:events'
import { AbortError } from '../protocol/errors.ts'

/** A node's run: open until `stop()`, then closed for good. */
export class Lifecycle {
  private readonly ac = new AbortController()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly work = new Set<Promise<unknown>>()

  constructor() {
    // Every request in flight listens to the signal: a flood or a crawl has many at once.
    setMaxListeners(0, this.ac.signal)
  }

  /** Aborted when the node stops: pass it to every outgoing request. */
  get signal(): AbortSignal {
    return this.ac.signal
  }

  /** True once `stop()` has begun. */
  get stopped(): boolean {
    return this.ac.signal.aborted
  }

  /**
   * Refuse new work once stopping.
   * @throws AbortError ERR_ABORTED "<what>: the node is stopping".
   */
  assertOpen(what: string): void {
    if (this.stopped) throw new AbortError(`${what}: the node is stopping`)
  }

  /** Run `fn` once after `ms` ms; nothing when stopped (the timer is cleared at stop). */
  later(ms: number, fn: () => void): void {
    if (this.stopped) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  /** Run `fn` every `ms` ms until stop (unref'd: it keeps no process alive). */
  every(ms: number, fn: () => void): void {
    if (this.stopped) return
    const t = setInterval(fn, ms)
    t.unref()
    this.timers.add(t)
  }

  /** Remember work in flight so `settled()` can wait for it; returns `p`. */
  track<T>(p: Promise<T>): Promise<T> {
    const w: Promise<void> = p.then(
      () => void this.work.delete(w),
      () => void this.work.delete(w)
    )
    this.work.add(w)
    return p
  }

  /** Clear every timer, then abort the signal (idempotent). */
  stop(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.ac.abort(new AbortError('the node is stopping'))
  }

  /** Resolves once the work tracked so far has settled (after `stop()`: at once, it was aborted). */
  async settled(): Promise<void> {
    while (this.work.size) await Promise.allSettled([...this.work])
  }
}
