/**
 * Drive the real TUI in tmux: one private tmux server per test (`tmux -L <unique>`), the TUI as
 * the child of the pane's shell, keys with send-keys, the screen with capture-pane.
 * There is no event for "the pane changed", so waits poll capture-pane every 100 ms, bounded.
 */
import type { ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { BIN, isolatedXdg } from '../helpers/nodes.ts'

const run = promisify(execFile)
let counter = 0

/** A TUI running in a detached tmux session. */
export interface TuiPane {
  socket: string
  /** PID of the TUI process (the pane's process). */
  pid: number
  /** The screen as text, one line per row. */
  capture(): Promise<string>
  /** The screen with SGR escape sequences (colours), for the NO_COLOR check. */
  captureEscapes(): Promise<string>
  /** tmux send-keys: key names ("Enter", "Tab", "C-c") or literal text with `literal`. */
  keys(...keys: string[]): Promise<void>
  type(text: string): Promise<void>
  /** Poll the screen until `match` holds (bounded). @returns the screen. @throws with the last screen. */
  waitFor(match: RegExp | ((screen: string) => boolean), timeoutMs?: number): Promise<string>
  resize(width: number, height: number): Promise<void>
  /** True once the TUI process has exited (and was reaped). */
  dead(): Promise<boolean>
  /** Exit status of the TUI once dead (null while it runs). */
  exitStatus(): Promise<number | null>
}

/** True when a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Poll `check` every `everyMs` until it is true; false after `timeoutMs`. */
export async function poll(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/**
 * Start `p2ptube ARGS` (TypeScript sources, so no build is needed) in a new tmux server of
 * `width` × `height`. The server is killed in teardown, and the TUI too if it still runs.
 */
export async function startTui(t: ExecutionContext, args: string[], opts: { width?: number; height?: number; env?: Record<string, string> } = {}): Promise<TuiPane> {
  const socket = `p2ptube-tui-${process.pid}-${++counter}`
  const tmux = (...a: string[]) => run('tmux', ['-L', socket, '-f', '/dev/null', ...a]).then((r) => r.stdout)
  const env: Record<string, string> = { P2PTUBE_FROM_SOURCE: '1', LANG: 'C.UTF-8', TERM: 'screen', ...isolatedXdg(t), ...opts.env }
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`])
  // The pane runs `sh -c 'node ...; echo $? > status'`: sh reaps the TUI at once and keeps its exit
  // status (tmux 3.3 was seen leaving the exited pane process unreaped for seconds).
  const statusFile = path.join(os.tmpdir(), `${socket}.status`)
  t.teardown(() => fs.rm(statusFile, { force: true }))
  // A test never asks this machine's real router for a port (the TUI maps by default).
  const tuiRun = args[0] === undefined || args[0] === 'tui' || args[0].startsWith('-')
  const all = tuiRun && !args.includes('--help') && !args.some((x) => x.endsWith('port-mapping')) ? [...args, '--no-port-mapping'] : args
  const cmd = `${shellQuote(process.execPath)} --import=tsx ${shellQuote(BIN)} ${all.map(shellQuote).join(' ')}; echo $? > ${shellQuote(statusFile)}`
  await tmux('new-session', '-d', '-s', 'tui', '-x', String(opts.width ?? 100), '-y', String(opts.height ?? 30), ...envArgs, cmd, ';', 'set-option', '-w', 'remain-on-exit', 'on')
  const shPid = Number((await tmux('display-message', '-p', '-t', 'tui', '#{pane_pid}')).trim())
  let pid = 0
  await poll(
    async () => {
      const kids = await fs.readFile(`/proc/${shPid}/task/${shPid}/children`, 'utf8').catch(() => '')
      pid = Number(kids.trim().split(/\s+/)[0] || 0)
      return pid > 0
    },
    5000,
    20
  )
  if (!pid) throw new Error('the TUI process did not start')
  t.teardown(async () => {
    await tmux('kill-server').catch(() => {})
    if (alive(pid)) process.kill(pid, 'SIGKILL')
  })
  const pane: TuiPane = {
    socket,
    pid,
    capture: () => tmux('capture-pane', '-p', '-t', 'tui'),
    captureEscapes: () => tmux('capture-pane', '-p', '-e', '-t', 'tui'),
    keys: async (...keys) => void (await tmux('send-keys', '-t', 'tui', ...keys)),
    type: async (text) => void (await tmux('send-keys', '-t', 'tui', '-l', text)),
    async waitFor(match, timeoutMs = 10_000) {
      const ok = typeof match === 'function' ? match : (s: string) => match.test(s)
      let screen = ''
      const found = await poll(async () => ok((screen = await pane.capture())), timeoutMs)
      if (!found) throw new Error(`screen never matched ${String(match)} in ${timeoutMs} ms; last screen:\n${screen}`)
      return screen
    },
    resize: async (w, h) => void (await tmux('resize-window', '-t', 'tui', '-x', String(w), '-y', String(h))),
    dead: async () => !alive(pid),
    exitStatus: async () => {
      let s = ''
      await poll(async () => (s = (await fs.readFile(statusFile, 'utf8').catch(() => '')).trim()) !== '', 3000, 50)
      return s === '' ? null : Number(s)
    }
  }
  return pane
}
