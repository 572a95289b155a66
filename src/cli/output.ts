/**
 * CLI output: human text with colour only on a TTY and without NO_COLOR, or one JSON object per
 * line with --json (STYLE.md "CLI"). Human text for data goes to stdout, progress and logs to stderr.
 */
import { Chalk } from 'chalk'

/** Exit codes (README "Exit codes"). */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  INTEGRITY: 4,
  INTERRUPTED: 130
} as const

/** Human or JSON printer for one command run. */
export class Output {
  readonly color: InstanceType<typeof Chalk>
  constructor(
    readonly json: boolean,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr,
    env: NodeJS.ProcessEnv = process.env
  ) {
    const useColor = !!this.out.isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb'
    this.color = new Chalk({ level: useColor ? 1 : 0 })
  }

  /** One JSON event line (JSON mode only). */
  event(event: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.out.write(JSON.stringify({ event, ...fields }) + '\n')
  }

  /** A line of human output on stdout (human mode only). */
  line(text: string): void {
    if (!this.json) this.out.write(text + '\n')
  }

  /** A status/log line on stderr (human mode), or a JSON "log" event. */
  info(text: string, level: string = 'info'): void {
    if (this.json) this.event('log', { level, msg: text })
    else this.err.write((level === 'warn' || level === 'error' ? this.color.yellow(text) : this.color.dim(text)) + '\n')
  }

  /** An error: JSON "error" event or a red line on stderr. */
  error(text: string, code?: string): void {
    if (this.json) this.event('error', { message: text, ...(code ? { code } : {}) })
    else this.err.write(this.color.red(`error: ${text}`) + '\n')
  }

  /** A progress line that rewrites itself on a TTY stderr. */
  progress(text: string): void {
    if (this.json) return
    if (this.err.isTTY) this.err.write(`\r\x1b[K${text}`)
  }

  /** End a progress line. */
  progressDone(): void {
    if (!this.json && this.err.isTTY) this.err.write('\r\x1b[K')
  }
}
