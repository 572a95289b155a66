/**
 * Logging of a long-running `p2ptube node` (service mode, README "Always on"): ISO timestamps,
 * an optional `--log-file` (appended; reopened on SIGHUP, so logrotate can move it), one line per
 * finished upload (peer, file, bytes, ms: node/upload-log.ts), and no run of identical lines: a
 * line equal to the one before is counted, and the count is logged once a different line comes
 * (RepeatFilter, used by every command's node: common.ts makeNode).
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import type { P2PNode } from '../app/node.ts'
import type { Upload } from '../node/upload-log.ts'
import { formatBytes } from '../text/format.ts'
import type { Output } from './output.ts'

/** Drops a log line equal to the previous one, and says how many were dropped when the next differs. */
export class RepeatFilter {
  private last = ''
  private repeats = 0

  /**
   * @returns the lines to log now: none for a repeat; the line, preceded by "(previous line
   *   repeated N times)" after a run of repeats.
   */
  filter(level: string, msg: string): Array<{ level: string; msg: string }> {
    const key = `${level}\n${msg}`
    if (key === this.last) {
      this.repeats++
      return []
    }
    const out = this.repeats ? [{ level: 'info', msg: `(previous line repeated ${this.repeats} more time${this.repeats === 1 ? '' : 's'})` }] : []
    this.last = key
    this.repeats = 0
    return [...out, { level, msg }]
  }
}

/** The upload log line. */
export function uploadLine(u: Upload): string {
  const who = u.member ? `${u.member} (${u.peer})` : u.peer
  const rate = u.ms > 0 ? `, ${formatBytes((u.bytes * 1000) / u.ms)}/s` : ''
  return `uploaded ${u.name} to ${who}: ${formatBytes(u.bytes)} in ${u.ms} ms${rate} (${u.requests} request${u.requests === 1 ? '' : 's'})`
}

/**
 * Open `file` for appending (its folder created), reopened on SIGHUP. @returns the stream holder
 * (its `stream` changes on reopen) and close(). @throws the open error (a bad path: exit 1).
 */
export function openLogFile(file: string, onError: (err: Error) => void): { stream: NodeJS.WritableStream; close(): Promise<void> } {
  const abs = path.resolve(file)
  mkdirSync(path.dirname(abs), { recursive: true })
  let stream: WriteStream = createWriteStream(abs, { flags: 'a' })
  stream.on('error', onError)
  // One writable whose target can be swapped: Output keeps a reference to this proxy.
  const proxy = {
    write: (chunk: string) => stream.write(chunk)
  } as unknown as NodeJS.WritableStream
  const reopen = (): void => {
    const old = stream
    stream = createWriteStream(abs, { flags: 'a' })
    stream.on('error', onError)
    old.end()
  }
  process.on('SIGHUP', reopen)
  return {
    stream: proxy,
    close: () =>
      new Promise<void>((resolve) => {
        process.off('SIGHUP', reopen)
        stream.end(() => resolve())
      })
  }
}

/** Log every finished upload of `node` as a line (and the log file's) and an `upload` JSON event. */
export function logUploads(node: P2PNode, out: Output): void {
  node.on('upload', (u: Upload) => {
    out.event('upload', { peer: u.peer, member: u.member, file: u.name, bytes: u.bytes, ms: u.ms, requests: u.requests })
    out.info(uploadLine(u))
  })
}
