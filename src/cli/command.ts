/**
 * The shape of one CLI command module (STYLE.md "CLI": one module per command): yargs' command
 * string, description and option builder, and a handler returning the exit status (output.ts EXIT).
 * `Args` is what the handler reads; the builder must declare every one of those options, which
 * the compiler checks (its parsed type must be assignable to Args).
 */
import type { Argv } from 'yargs'
import type { EarlyPlayer } from './early-player.ts'

/** What main.ts started before it loaded the command (start-up: early-player.ts). */
export interface RunContext {
  /** mpv, spawned first thing for `fetch --play`. */
  player?: EarlyPlayer
}

/** A command: `handler` resolves with the exit status; it throws for bad usage (main.ts maps it). */
export interface CommandModule<Args> {
  command: string | string[]
  describe: string
  builder(y: Argv): Argv<Args>
  handler(a: Args, ctx?: RunContext): Promise<number>
}
