/**
 * `p2ptube tui` (also `p2ptube` with no command): run a node with the `node` options and open the
 * full-screen terminal UI on it (src/tui). Needs a terminal: with stdin or stdout not a TTY it
 * prints why and exits 2 instead of drawing into a pipe.
 */
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { P2PNode } from '../../app/node.ts'
import { checkNodeArgs, nodeOptions, nodeOptionsFrom, resumeState, splitPlayerArgs, type NodeArgs } from '../common.ts'
import { EXIT, Output } from '../output.ts'
import { openProfile } from '../profile.ts'
import { UsageError } from '../../protocol/errors.ts'
import { checkWebArgs, startWeb, webOptions, type WebArgs } from '../web-option.ts'

export const command = ['tui', '$0']
export const describe = 'open the terminal UI on a node (the default command): share, search, fetch, play'

export function builder(y: Argv) {
  return webOptions(nodeOptions(y).option('stabilize', { type: 'number', default: 10, describe: 'seconds between peer liveness checks (0 = off)' }))
    .option('ttl', { type: 'number', default: 4, describe: 'search TTL (capped at 7)' })
    .option('timeout', { type: 'number', default: 3, describe: 'seconds a search waits for answers' })
    .example('$0 --share ~/Videos --peer 127.0.0.1:9400', 'share a folder and join a friend')
    .example('$0 --share ~/Videos --http 8080', 'also serve the web page on this machine (its URL is in the log pane)')
}

type TuiArgs = NodeArgs & WebArgs & { stabilize: number; ttl: number; timeout: number }

/** Runs until q / Ctrl-C / SIGTERM / SIGHUP; QUIT is sent to peers and mpv is closed. */
export async function handler(a: TuiArgs): Promise<number> {
  checkNodeArgs(a)
  checkWebArgs(a)
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    process.stderr.write(
      `p2ptube tui needs a terminal: ${!process.stdout.isTTY ? 'stdout' : 'stdin'} is not a TTY.\n` + 'Run it in a terminal, or use `p2ptube node` (with --json for scripts) for a headless node.\n'
    )
    return EXIT.USAGE
  }
  if (!Number.isFinite(a.timeout) || a.timeout <= 0) throw new UsageError(`--timeout must be more than 0 seconds, got ${a.timeout}`)
  // The TUI is a long-running node: it owns the state folder (profile.ts) and resumes its state.
  // Warnings before the screen opens go to stderr.
  const profile = await openProfile(a.data, true, new Output(false))
  const node = new P2PNode({ ...nodeOptionsFrom(a, profile), stabilizeIntervalMs: a.stabilize * 1000 })

  // Loaded here, not at start-up: blessed is only needed by the TUI (faster `fetch`, `node`...).
  const { TuiApp } = await import('../../tui/app.ts')
  const app = new TuiApp(node, {
    peers: a.peer,
    verbose: a.verbose,
    color: process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb',
    search: { ttl: a.ttl, timeoutMs: a.timeout * 1000 },
    playerArgs: splitPlayerArgs(a['player-args'])
  })
  const onSignal = (): void => void app.quit()
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal)
  try {
    await app.start()
    // The web page over the same node (--http): its URL and login token go to the log pane.
    const web = await startWeb(node, a).catch(async (err: unknown) => {
      await app.quit()
      throw err
    })
    if (web) {
      app.closeOnQuit(() => web.server.stop())
      for (const line of web.lines) app.note(line, 'ok')
    }
    resumeState(node, profile)
    await app.exited
  } finally {
    await profile.lock?.release()
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal)
  return EXIT.OK
}

/** The command for main.ts. */
export const module: CommandModule<TuiArgs> = { command, describe, builder, handler }
