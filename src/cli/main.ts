/**
 * The p2ptube command line (yargs). `buildParser()` builds the parser without running it, so
 * tests can call it without spawning; `main(argv)` runs it (bin/p2ptube.js calls it; importing
 * this module runs nothing).
 */
import { createRequire } from 'node:module'
import { safeText } from '../text/safe-text.ts'
import yargs, { type Argv } from 'yargs'
import { hideBin } from 'yargs/helpers'
import type { CommandModule, RunContext } from './command.ts'
import { startEarlyPlayer } from './early-player.ts'
import { EXIT } from './output.ts'
import { UsageError } from '../protocol/errors.ts'
import { applySettings, type ConfigScope } from './config.ts'
import { p2ptubeDirs } from '../app/dirs.ts'

/** A command's module, loaded only when it runs (start-up: `p2ptube --version` loads none). */
type Loader = () => Promise<CommandModule<unknown>>

/** A command module's loader, its args type erased (wrap() only passes them through). */
function lazy<Args>(load: () => Promise<{ module: CommandModule<Args> }>): Loader {
  return async () => (await load()).module as unknown as CommandModule<unknown>
}

/**
 * Every command, in --help order: its name, the config scope it takes settings from (config.ts),
 * and its module. Modules load lazily (each is its own chunk in the bundle, scripts/bundle.ts),
 * so a command pays for what it uses only: `fetch` never loads blessed, the tracker or the web page.
 */
const COMMANDS: { name: string; settings?: ConfigScope; load: Loader }[] = [
  { name: 'node', settings: 'node', load: lazy(() => import('./commands/node.ts')) },
  { name: 'search', settings: 'all', load: lazy(() => import('./commands/search.ts')) },
  { name: 'fetch', settings: 'all', load: lazy(() => import('./commands/fetch.ts')) },
  { name: 'browse', settings: 'all', load: lazy(() => import('./commands/browse.ts')) },
  { name: 'demo', load: lazy(() => import('./commands/demo.ts')) },
  { name: 'tracker', load: lazy(() => import('./commands/tracker.ts')) },
  { name: 'tui', settings: 'node', load: lazy(() => import('./commands/tui.ts')) },
  { name: 'group', load: lazy(() => import('./commands/group.ts')) },
  { name: 'config', load: lazy(() => import('./commands/config.ts')) },
  { name: 'testnet', load: lazy(() => import('./commands/testnet.ts')) }
]

/** The default command (`p2ptube` alone, or with options only). */
const DEFAULT_COMMAND = 'tui'

/** This package's version (package.json, two folders up from src/cli, dist/cli and, rewritten, the bundle). */
function packageVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version
}

/**
 * Which command modules `argv` needs: the command it names (its first word that is a command's
 * name), the default (tui) when it names none, none for a bare `--version`, and all of them for
 * the overall --help or a word that is no command (yargs lists or suggests them).
 */
export function commandsFor(argv: string[]): Set<string> {
  const names = new Set(COMMANDS.map((c) => c.name))
  const words = argv.filter((x) => !x.startsWith('-'))
  const named = words.find((w) => names.has(w))
  if (named) return new Set([named])
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return new Set()
  if (words.length || argv.includes('--help') || argv.includes('-h')) return names
  return new Set([DEFAULT_COMMAND])
}

/**
 * A command for yargs: its handler's exit status is kept in `status.code`. With `settings`, the
 * command also takes the config file's and the environment's values for that scope (config.ts).
 */
function wrap<Args>(m: CommandModule<Args>, status: { code: number }, settings?: ConfigScope, ctx: RunContext = {}) {
  return {
    command: m.command,
    describe: m.describe,
    builder: settings ? (y: Argv) => applySettings(m.builder(y), settings, p2ptubeDirs().configFile) : m.builder,
    handler: async (a: Args) => {
      status.code = await m.handler(a, ctx)
    }
  }
}

/** A number option given something else (`--timeout abc`) is bad usage (exit 2), not NaN. */
function rejectNaN(argv: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(argv)) {
    // camelCase and one-letter keys are yargs' aliases of the same option
    if (typeof v === 'number' && Number.isNaN(v) && k.length > 1 && !/[A-Z]/.test(k)) throw new UsageError(`--${k} takes a number`)
  }
}

/** Levenshtein distance (for "did you mean"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]!
}

/**
 * `p2ptube serch`: the first word names no command (the default command, tui, takes no words).
 * @throws UsageError naming the nearest command, if one is near.
 */
export function checkCommandWord(argv: string[]): void {
  const word = argv.find((x) => !x.startsWith('-'))
  if (word === undefined || argv.indexOf(word) !== 0) return // after options: yargs' own checks
  const names = COMMANDS.map((c) => c.name)
  if (names.includes(word)) return
  const [near] = names.map((n) => ({ n, d: distance(word, n) })).sort((x, y) => x.d - y.d)
  const hint = near && near.d <= Math.max(2, Math.floor(word.length / 3)) ? `; did you mean \`${near.n}\`?` : ''
  throw new UsageError(`unknown command \`${safeText(word)}\`${hint} (commands: ${names.join(', ')})`)
}

/**
 * Build the CLI parser (no side effects until parsed). Loads the modules of the commands `argv`
 * needs (commandsFor); the others are listed by name only and never run.
 * @param status receives the exit status of the command that ran.
 * @param ctx what main() started ahead of the command, handed to its handler.
 */
export async function buildParser(argv: string[] = hideBin(process.argv), status: { code: number } = { code: EXIT.OK }, ctx: RunContext = {}): Promise<Argv> {
  const needed = commandsFor(argv)
  const modules = await Promise.all(COMMANDS.map(async (c) => ({ ...c, module: needed.has(c.name) ? await c.load() : null })))
  let y = yargs(argv).scriptName('p2ptube').usage('$0 <command> [options]\n\nShare and stream videos and music with a group, peer to peer.')
  for (const c of modules) {
    if (c.module) y = y.command(wrap(c.module, status, c.settings, ctx))
    else
      y = y.command(
        c.name,
        false,
        (b) => b,
        () => {}
      )
  }
  return y
    .middleware(rejectNaN)
    .demandCommand(1, 'name a command: tui (the default), node, search, fetch, config, testnet or demo (see --help)')
    .strict()
    .epilog(
      'Settings: `p2ptube config list` (config.json in $XDG_CONFIG_HOME/p2ptube); P2PTUBE_<KEY> in the environment overrides it, a flag overrides both. ' +
        'A node keeps its state (shares, peers, transfers) in $XDG_DATA_HOME/p2ptube: `p2ptube config path all`.\n' +
        'Exit codes: 0 ok, 1 error, 2 bad usage, 3 not found, 4 integrity (SHA-256) failure, 130 interrupted.'
    )
    .help()
    .alias('h', 'help')
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      // yargs' own errors (YError, e.g. a coerce that threw a UsageError) are bad usage too.
      if (err && err.name !== 'YError') throw err
      process.stderr.write(`error: ${safeText(msg ?? err?.message)}\nRun with --help for usage.\n`)
      process.exit(EXIT.USAGE)
    })
}

/**
 * Run the CLI on `argv` (the arguments after the script, e.g. `process.argv.slice(2)`) and set
 * `process.exitCode` (README "Exit codes"). Errors are printed, never thrown.
 */
export async function main(argv: string[]): Promise<void> {
  const status = { code: EXIT.OK as number }
  const ctx: RunContext = {}
  try {
    checkCommandWord(argv)
    // mpv first (fetch --play): it starts while the command loads and the node starts.
    const early = startEarlyPlayer(argv)
    const [parser, player] = await Promise.all([buildParser(argv, status, ctx), early])
    if (player) Object.assign(ctx, { player })
    await parser.parseAsync()
    process.exitCode = status.code
  } catch (err) {
    const e = err as Error & { code?: string }
    process.stderr.write(`error: ${safeText(e.message)}\n`)
    process.exitCode = e.code === 'ERR_USAGE' || e.code === 'ERR_MALFORMED_PAYLOAD' ? EXIT.USAGE : EXIT.ERROR
  } finally {
    await ctx.player?.player.quit().catch(() => {}) // a handler that failed before taking it
  }
}
