/**
 * Readers (the player, an HTTP range) waiting for bytes of a download that are not on disk yet.
 * Each waits for one byte offset; the download wakes them as bytes are written and fails them
 * all when it fails.
 */
import { AbortError } from '../protocol/errors.ts'

interface Waiter {
  offset: number
  resolve: () => void
  reject: (e: Error) => void
}

/** The waiting readers of one download. */
export class ReadWaiters {
  private waiters: Waiter[] = []

  /** How many readers wait. */
  get length(): number {
    return this.waiters.length
  }

  /** Byte offsets readers wait for, in arrival order (duplicates kept). */
  offsets(): number[] {
    return this.waiters.map((w) => w.offset)
  }

  /**
   * Wait until wake() finds byte `offset` ready.
   * @throws the error given to fail(); AbortError when `signal` aborts (the waiter is removed).
   */
  add(offset: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = {
        offset,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject
      }
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((x) => x !== w)
        reject(new AbortError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(w)
    })
  }

  /** Resolve every reader whose offset is `ready`; the others keep waiting. */
  wake(ready: (offset: number) => boolean): void {
    if (!this.waiters.length) return
    const still: Waiter[] = []
    for (const w of this.waiters) {
      if (ready(w.offset)) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }

  /** Reject every reader with `err`. */
  fail(err: Error): void {
    for (const w of this.waiters) w.reject(err)
    this.waiters = []
  }
}
