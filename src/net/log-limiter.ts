/**
 * Rate-limited logging for lines a remote peer can cause (bad input, refused connections): at
 * most `lines` per `windowMs`; the rest are counted, and one line says how many were suppressed
 * once the window is over. A flood of garbage then costs a few log lines, not one per frame.
 */

/** What the limiter writes through. */
export type LogLine = (level: 'warn', msg: string) => void

/** A window of `lines` log lines per `windowMs` (ms), with a suppressed-count line after it. */
export class LogLimiter {
  private windowStart = -Infinity
  private used = 0
  private suppressed = 0
  private timer: NodeJS.Timeout | null = null

  /**
   * @param what names the lines in the summary ("bad input").
   * @param now clock in ms (injectable for tests).
   */
  constructor(
    private readonly write: LogLine,
    private readonly what: string,
    readonly lines = 20,
    readonly windowMs = 10_000,
    private readonly now: () => number = Date.now
  ) {}

  /** Log `msg` unless this window's lines are used up (then count it). */
  log(msg: string): void {
    const t = this.now()
    if (t - this.windowStart >= this.windowMs) {
      this.summary()
      this.windowStart = t
      this.used = 0
    }
    if (this.used < this.lines) {
      this.used++
      return this.write('warn', msg)
    }
    this.suppressed++
    if (!this.timer) {
      // Say how many were dropped once the window ends, even if the flood stops.
      this.timer = setTimeout(() => this.summary(), Math.max(0, this.windowStart + this.windowMs - t))
      this.timer.unref()
    }
  }

  /** Lines suppressed and not reported yet. */
  get pending(): number {
    return this.suppressed
  }

  /** Report the suppressed count now (also on stop), if any. */
  summary(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (!this.suppressed) return
    this.write('warn', `${this.suppressed} more ${this.what} line(s) suppressed (at most ${this.lines} per ${this.windowMs / 1000} s)`)
    this.suppressed = 0
  }
}
