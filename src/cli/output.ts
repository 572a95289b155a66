/**
 * CLI output: human text with colour only on a TTY and without NO_COLOR, or one JSON object per
 * line with --json (STYLE.md "CLI"). Data goes to stdout, progress and logs to stderr.
 * A reader that goes away (`p2ptube search x | head -1`: EPIPE) ends the run cleanly, without a
 * stack trace: see OutputOptions.onClosed.
 * Every line is made terminal-safe here (src/text/safe-text.ts): logs, errors and progress are
 * escaped whole, data lines keep only the CLI's own SGR colours (callers pass remote strings
 * through safeText first), JSON escapes DEL, C1 and bidi controls too.
 */
import { Chalk } from 'chalk'
import { safeJson, safeSgrText, safeText } from '../text/safe-text.ts'

/** Exit codes (README "Exit codes"). */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  INTEGRITY: 4,
  INTERRUPTED: 130
} as const

/**
 * What happens once stdout's reader is gone: the command's clean shutdown (onShutdown in
 * common.ts: the node says goodbye, exit 0) when one is installed, exit 0 otherwise.
 */
export function endOnClosedOutput(): void {
  if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM')
  else process.exit(EXIT.OK)
}

/** Human or JSON printer for one command run. */
export class Output {
  readonly color: InstanceType<typeof Chalk>
  /** stdout's reader went away: data is dropped from then on. */
  private outClosed = false
  private errClosed = false
  /** Service mode (logTo): ISO timestamps on logs, and a copy of every log and line in a file. */
  private stamps = false
  private file: NodeJS.WritableStream | null = null
  /**
   * Human mode: print 'info' status lines on stderr (warnings and errors always). The one-shot
   * commands (search, fetch, browse) set it from --verbose; JSON 'log' events are kept either way.
   */
  showInfo = true

  /**
   * @param onClosed called once when a write to `out` fails with EPIPE (its reader closed);
   *   other stream errors are thrown as before.
   */
  constructor(
    readonly json: boolean,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    private readonly err: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
    onClosed: () => void = endOnClosedOutput
  ) {
    const useColor = !!this.out.isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb'
    this.color = new Chalk({ level: useColor ? 1 : 0 })
    const closed =
      (which: 'out' | 'err') =>
      (e: NodeJS.ErrnoException): void => {
        if (e.code !== 'EPIPE') throw e
        if (which === 'err') return void (this.errClosed = true) // logs nobody reads: drop them
        if (this.outClosed) return
        this.outClosed = true
        onClosed()
      }
    // Once per stream: several Output objects of one run share process.stdout.
    if (!this.out.listeners('error').some((l) => (l as { p2ptubeSink?: boolean }).p2ptubeSink)) this.out.on('error', Object.assign(closed('out'), { p2ptubeSink: true }))
    if (!this.err.listeners('error').some((l) => (l as { p2ptubeSink?: boolean }).p2ptubeSink)) this.err.on('error', Object.assign(closed('err'), { p2ptubeSink: true }))
  }

  /**
   * Service mode (`p2ptube node`): log lines on stderr start with an ISO 8601 time and JSON `log`
   * and `error` events carry `time`; with `file`, every log and error line is also appended
   * there as `TIME LEVEL text` (whatever --json says).
   */
  logTo(opts: { timestamps: boolean; file?: NodeJS.WritableStream | null }): void {
    this.stamps = opts.timestamps
    this.file = opts.file ?? null
  }

  private toFile(level: string, text: string): void {
    this.file?.write(`${new Date().toISOString()} ${level} ${text}\n`)
  }

  private stamp(): string {
    return this.stamps ? new Date().toISOString() + ' ' : ''
  }

  private data(text: string): void {
    if (!this.outClosed) this.out.write(text)
  }

  private log(text: string): void {
    if (!this.errClosed) this.err.write(text)
  }

  /** One JSON event line (JSON mode only). */
  event(event: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.data(safeJson({ event, ...fields }) + '\n')
  }

  /** A line of human output on stdout (human mode only); controls other than SGR colours are escaped. */
  line(text: string): void {
    if (!this.json) this.data(safeSgrText(text) + '\n')
  }

  /** stdout is a terminal (tables get a header and fit its width). */
  get isTTY(): boolean {
    return !!this.out.isTTY
  }

  /** stdout's width in cells (80 when not a terminal). */
  get columns(): number {
    return (this.out as { columns?: number }).columns ?? 80
  }

  /** stderr's width in cells, for the progress line (80 when not a terminal). */
  get errColumns(): number {
    return (this.err as { columns?: number }).columns ?? 80
  }

  /** A status/log line on stderr (human mode; 'info' ones only with showInfo), or a JSON "log" event. */
  info(text: string, level: string = 'info'): void {
    this.toFile(level, text)
    if (!this.json && !this.showInfo && (level === 'info' || level === 'debug')) return
    if (this.json) this.event('log', { ...(this.stamps ? { time: new Date().toISOString() } : {}), level, msg: text })
    else this.log(this.stamp() + (level === 'warn' || level === 'error' ? this.color.yellow(safeText(text)) : this.color.dim(safeText(text))) + '\n')
  }

  /** An error: JSON "error" event or a red line on stderr. */
  error(text: string, code?: string): void {
    this.toFile('error', text)
    if (this.json) this.event('error', { ...(this.stamps ? { time: new Date().toISOString() } : {}), message: text, ...(code ? { code } : {}) })
    else this.log(this.stamp() + this.color.red(`error: ${safeText(text)}`) + '\n')
  }

  /** A progress line that rewrites itself on a TTY stderr. */
  progress(text: string): void {
    if (this.json) return
    if (this.err.isTTY) this.log(`\r\x1b[K${safeText(text)}`)
  }

  /** End a progress line. */
  progressDone(): void {
    if (!this.json && this.err.isTTY) this.log('\r\x1b[K')
  }
}
