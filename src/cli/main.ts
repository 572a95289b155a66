/**
 * The p2ptube command line (yargs). `buildParser()` builds the parser without running it, so
 * tests can call it without spawning.
 */
import yargs, { type Argv } from 'yargs'
import { hideBin } from 'yargs/helpers'
import * as demo from './commands/demo.ts'
import * as fetchCmd from './commands/fetch.ts'
import * as groupCmd from './commands/group.ts'
import * as nodeCmd from './commands/node.ts'
import * as search from './commands/search.ts'
import * as trackerCmd from './commands/tracker.ts'
import * as tui from './commands/tui.ts'
import { EXIT } from './output.ts'

type CommandModule = { command: string | string[]; describe: string; builder: (y: Argv) => Argv<any>; handler: (a: any) => Promise<number> }

let exitCode: number = EXIT.OK

function wrap(m: CommandModule) {
  return {
    command: m.command,
    describe: m.describe,
    builder: m.builder,
    handler: async (a: unknown) => {
      exitCode = await m.handler(a)
    }
  }
}

/** Build the CLI parser (no side effects until parsed). */
export function buildParser(argv: string[] = hideBin(process.argv)): Argv {
  return yargs(argv)
    .scriptName('p2ptube')
    .usage('$0 <command> [options]\n\nShare and stream videos and music with a group, peer to peer.')
    .command(wrap(nodeCmd))
    .command(wrap(search))
    .command(wrap(fetchCmd))
    .command(wrap(demo))
    .command(wrap(trackerCmd))
    .command(wrap(tui))
    .command(wrap(groupCmd))
    .demandCommand(1, 'name a command: tui (the default), node, search, fetch or demo (see --help)')
    .strict()
    .epilog('Exit codes: 0 ok, 1 error, 2 bad usage, 3 not found, 4 integrity (SHA-256) failure, 130 interrupted.')
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err
      process.stderr.write(`error: ${msg}\nRun with --help for usage.\n`)
      process.exit(EXIT.USAGE)
    })
}

async function main(): Promise<void> {
  try {
    await buildParser().parseAsync()
    process.exitCode = exitCode
  } catch (err) {
    const e = err as Error & { code?: string }
    process.stderr.write(`error: ${e.message}\n`)
    process.exitCode = e.code === 'ERR_USAGE' || e.code === 'ERR_MALFORMED_PAYLOAD' ? EXIT.USAGE : EXIT.ERROR
  }
}

await main()
