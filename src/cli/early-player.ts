/**
 * `p2ptube fetch ... --play` spawns mpv first thing (issue #13, start-up): mpv needs 200-500 ms
 * to open its IPC socket, about as long as Node needs to load the fetch command and start a node,
 * so both run at once. main.ts calls startEarlyPlayer(argv) before it loads the command; the fetch
 * handler takes the player from its RunContext (command.ts), or starts its own when there is none
 * or the command line's --player-args turn out different (e.g. from the config file).
 */
/** Split "--a --b=1" into mpv arguments. */
export function splitPlayerArgs(s: string | undefined): string[] {
  return s ? s.split(/\s+/).filter(Boolean) : []
}

/** mpv started ahead of the command, with the flags it was started with. */
export interface EarlyPlayer {
  player: import('../player/mpv-player.ts').MpvPlayer
  /** MpvPlayer.start(); rejections are already handled here (the handler awaits it again). */
  ready: Promise<void>
  playerArgs: string[]
}

/** The value of `--name X` or `--name=X` on a command line, if any. */
function flagValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!
    if (x === `--${name}`) return argv[i + 1]
    if (x.startsWith(`--${name}=`)) return x.slice(name.length + 3)
  }
  return undefined
}

/**
 * For `fetch ... --play` (and mpv installed): load the player and start mpv now.
 * @returns null for any other command line.
 */
export async function startEarlyPlayer(argv: string[]): Promise<EarlyPlayer | null> {
  const words = argv.filter((x) => !x.startsWith('-'))
  if (words[0] !== 'fetch' || !argv.includes('--play') || argv.includes('--help') || argv.includes('-h')) return null
  const { findMpv, MpvPlayer } = await import('../player/mpv-player.ts')
  if (findMpv() === null) return null // the handler says so
  const playerArgs = splitPlayerArgs(flagValue(argv, 'player-args'))
  const player = new MpvPlayer({ playerArgs })
  const ready = player.start()
  ready.catch(() => {})
  return { player, ready, playerArgs }
}

/**
 * Quit an early mpv the command does not use, once its start settled: quitting while node-mpv is
 * still connecting to the IPC socket made the connect's ECONNREFUSED an unhandled 'error' event
 * that ended the process (seen with `fetch --play A B`, which plays in its own gapless mpv).
 */
export function dropEarlyPlayer(e: EarlyPlayer): void {
  const quit = (): Promise<void> => e.player.quit()
  void e.ready.then(quit, quit).catch(() => {})
}
