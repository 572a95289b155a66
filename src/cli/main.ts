/**
 * The p2ptube command line (yargs). `buildParser()` builds the parser without running it, so
 * tests can call it without spawning; `main(argv)` runs it (bin/p2ptube.js calls it; importing
 * this module runs nothing).
 */
import { safeText } from '../text/safe-text.ts'
import yargs, { type Argv } from 'yargs'
import { hideBin } from 'yargs/helpers'
import type { CommandModule } from './command.ts'
import { module as browse } from './commands/browse.ts'
import { module as demo } from './commands/demo.ts'
import { module as fetchCmd } from './commands/fetch.ts'
import { module as groupCmd } from './commands/group.ts'
import { module as nodeCmd } from './commands/node.ts'
import { module as search } from './commands/search.ts'
import { module as testnetCmd } from './commands/testnet.ts'
import { module as trackerCmd } from './commands/tracker.ts'
import { module as tui } from './commands/tui.ts'
import { module as configCmd } from './commands/config.ts'
import { EXIT } from './output.ts'
import { applySettings, type ConfigScope } from './config.ts'
import { p2ptubeDirs } from '../app/dirs.ts'

/**
 * A command for yargs: its handler's exit status is kept in `status.code`. With `settings`, the
 * command also takes the config file's and the environment's values for that scope (config.ts).
 */
function wrap<Args>(m: CommandModule<Args>, status: { code: number }, settings?: ConfigScope) {
  return {
    command: m.command,
    describe: m.describe,
    builder: settings ? (y: Argv) => applySettings(m.builder(y), settings, p2ptubeDirs().configFile) : m.builder,
    handler: async (a: Args) => {
      status.code = await m.handler(a)
    }
  }
}

/**
 * Build the CLI parser (no side effects until parsed).
 * @param status receives the exit status of the command that ran.
 */
export function buildParser(argv: string[] = hideBin(process.argv), status: { code: number } = { code: EXIT.OK }): Argv {
  return yargs(argv)
    .scriptName('p2ptube')
    .usage('$0 <command> [options]\n\nShare and stream videos and music with a group, peer to peer.')
    .command(wrap(nodeCmd, status, 'node'))
    .command(wrap(search, status, 'all'))
    .command(wrap(fetchCmd, status, 'all'))
    .command(wrap(browse, status, 'all'))
    .command(wrap(demo, status))
    .command(wrap(trackerCmd, status))
    .command(wrap(tui, status, 'node'))
    .command(wrap(groupCmd, status))
    .command(wrap(configCmd, status))
    .command(wrap(testnetCmd, status))
    .demandCommand(1, 'name a command: tui (the default), node, search, fetch, config, testnet or demo (see --help)')
    .strict()
    .epilog(
      'Settings: `p2ptube config list` (config.json in $XDG_CONFIG_HOME/p2ptube); P2PTUBE_<KEY> in the environment overrides it, a flag overrides both. ' +
        'A node keeps its state (shares, peers, transfers) in $XDG_DATA_HOME/p2ptube: `p2ptube config path all`.\n' +
        'Exit codes: 0 ok, 1 error, 2 bad usage, 3 not found, 4 integrity (SHA-256) failure, 130 interrupted.'
    )
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err
      process.stderr.write(`error: ${safeText(msg)}\nRun with --help for usage.\n`)
      process.exit(EXIT.USAGE)
    })
}

/**
 * Run the CLI on `argv` (the arguments after the script, e.g. `process.argv.slice(2)`) and set
 * `process.exitCode` (README "Exit codes"). Errors are printed, never thrown.
 */
export async function main(argv: string[]): Promise<void> {
  const status = { code: EXIT.OK as number }
  try {
    await buildParser(argv, status).parseAsync()
    process.exitCode = status.code
  } catch (err) {
    const e = err as Error & { code?: string }
    process.stderr.write(`error: ${safeText(e.message)}\n`)
    process.exitCode = e.code === 'ERR_USAGE' || e.code === 'ERR_MALFORMED_PAYLOAD' ? EXIT.USAGE : EXIT.ERROR
  }
}
