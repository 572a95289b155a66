/**
 * The only file that imports node-mpv (2.0.0-beta.2, the wrapper the design card requires): one
 * mpv process, spawned idle and driven over its JSON IPC socket. Every node-mpv work-around lives
 * here; MpvPlayer (mpv-player.ts) sees MpvProcess only: start(), command()/setProperty()/
 * getProperty() that reject with MpvError and never hang on a dead mpv, quit(), and mpv's raw
 * messages as 'message' events.
 *
 * node-mpv gotchas, numbered as in ../shared/reference/mpv-and-streaming.md ("The npm wrappers"):
 *  1. every instance defaults to the same socket path → makeSocketPath() (mpv-child.ts): unique
 *     per start() (Node pid, sequence number, random bytes).
 *  2. a socket path over ~107 bytes makes start() never settle and leaves mpv running →
 *     makeSocketPath() keeps it ≤ 100 bytes (else /tmp), and start() races startTimeoutMs, then
 *     SIGKILLs what was spawned, even a spawn that comes after the timeout.
 *  3. load() rewrites any source without "http" with path.resolve (and gives up after 10 socket
 *     chunks) → no load() here: MpvPlayer sends `loadfile <url> replace` through command().
 *  4. its paused/resumed events never fire on mpv ≥ 0.35 (and it renames playback-restart to
 *     'started') → its own events are not used: mpv's raw event and property-change lines are
 *     re-emitted as 'message', and MpvPlayer reads the `pause` property from them.
 *  5. it installs no exit handlers, so mpv outlives a Node process that dies → every spawned mpv
 *     is registered (MpvChild, mpv-child.ts) for a process 'exit' hook that SIGKILLs it
 *     (process.exit, uncaught exception), and
 *     `--input-ipc-client=fd://0` gives mpv an IPC client on Node's stdin socketpair that closes
 *     when Node dies in any way, SIGKILL included, and mpv then quits by itself (the CLI's
 *     SIGINT/SIGTERM handlers call quit()). Second half: it splits IPC data on '\n' per socket
 *     chunk without keeping a partial line → bufferWholeLines().
 * Further node-mpv quirks, handled where named: its CommonJS default export (NodeMpv); flags that
 * silence mpv hang start() (RESERVED_ARGS); auto_restart and the `mpv --version` probe (start());
 * requests whose reply is lost never settle, rejections are plain objects (#call,
 * commandError); quit() awaits a reply mpv may never send (quit()); the ChildProcess sits in a
 * private field and its socket has no early 'error' listener (start()); --msg-level=all=no hides
 * mpv's own start-up errors (the stderr tail). Not node-mpv's fault: mpv 0.35 leaves its socket
 * file behind (deleted at exit; stale ones swept once per process, mpv-child.ts).
 */
import type { ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { StringDecoder } from 'node:string_decoder'
import nodeMpvModule from 'node-mpv'
import { TimeoutError } from '../protocol/errors.ts'
import { findMpv } from './find-mpv.ts'
import { makeSocketPath, MpvChild, removeSocket } from './mpv-child.ts'
import { MpvError, MpvNotInstalledError } from './player.ts'

// node-mpv's index.d.ts declares `export default class` but lib/ is CommonJS (`module.exports =
// mpv`): under NodeNext the default import is that class itself, while tsc types it as the module.
const NodeMpv = nodeMpvModule as unknown as typeof nodeMpvModule.default
type NodeMpv = InstanceType<typeof NodeMpv>

/** A JSON line mpv sends on its own (no request_id): an event, or a property-change. */
export interface MpvMessage {
  event: string
  name?: string
  data?: unknown
  reason?: string
  file_error?: string
}

/** What MpvProcess is built from (MpvPlayerOptions with defaults applied). Times in ms. */
export interface MpvProcessOptions {
  /** mpv executable: a name looked up on PATH, or a path. */
  binary: string
  /** Add `--vo=null --ao=null`. */
  headless: boolean
  /** Extra mpv flags, appended last so they win; RESERVED_ARGS are dropped. */
  playerArgs: string[]
  /** node-mpv's audio_only and `--demuxer-lavf-analyzeduration=0.1` (mp3 start 1 s → 260 ms). */
  audioOnly: boolean
  /** Limit for spawn → IPC ready. */
  startTimeoutMs: number
  log: (msg: string) => void
}

/** Events: mpv's raw messages, and the process's exit (after its socket file is deleted). */
export interface MpvProcessEvents {
  message: [msg: MpvMessage]
  exit: [code: number | null, signal: NodeJS.Signals | null]
}

/**
 * User flags that would break node-mpv: it waits for mpv to print "Listening to IPC socket" and
 * hangs until our start timeout when output is silenced (--no-terminal, --really-quiet,
 * --msg-level), and it owns the IPC socket and idle mode. Dropped with a log line.
 */
const RESERVED_ARGS = ['--no-terminal', '--terminal', '--really-quiet', '--msg-level', '--idle', '--no-idle', '--input-ipc-server', '--input-ipc-client', '--input-unix-socket']

function isReserved(arg: string): boolean {
  return RESERVED_ARGS.some((r) => arg === r || arg.startsWith(`${r}=`))
}

/** node-mpv internals relied on (not in its index.d.ts; read from lib/ in 2.0.0-beta.2). */
interface NodeMpvInternals {
  socket: EventEmitter & { socket: EventEmitter; dataHandler: (data: Buffer | string) => void }
  mpvPlayer?: ChildProcess
}

/**
 * node-mpv splits each socket chunk on '\n' and JSON.parses the pieces, so a line cut across two
 * chunks throws inside a 'data' handler and kills the process (gotcha 5, second half). Its
 * ipcInterface looks `this.dataHandler` up per chunk, so an instance override can hand it whole
 * lines only; the StringDecoder also keeps UTF-8 (file names) intact across chunks.
 */
function bufferWholeLines(ipc: NodeMpvInternals['socket']): void {
  const original = ipc.dataHandler.bind(ipc)
  const decoder = new StringDecoder('utf8')
  let partial = ''
  ipc.dataHandler = (data) => {
    partial += typeof data === 'string' ? data : decoder.write(data)
    const end = partial.lastIndexOf('\n')
    if (end === -1) return
    const lines = partial.slice(0, end + 1)
    partial = partial.slice(end + 1)
    original(lines)
  }
}

/** node-mpv rejects with plain objects ({ errcode, verbose, errmessage }): turn them into errors. */
function commandError(what: string, cause: unknown): MpvError {
  const detail = typeof cause === 'object' && cause !== null ? [(cause as { verbose?: unknown }).verbose, (cause as { errmessage?: unknown }).errmessage].filter(Boolean).join(': ') : String(cause)
  return new MpvError('ERR_MPV_COMMAND', `mpv ${what} failed${detail ? `: ${detail}` : ''}`, { cause })
}

/**
 * One mpv process through node-mpv. Lifecycle: `new` (no I/O) → start() → commands → quit().
 * No mpv outlives the Node process (gotcha 5).
 */
export class MpvProcess extends EventEmitter<MpvProcessEvents> {
  readonly #opts: MpvProcessOptions
  #mpv: NodeMpv | null = null
  #child: MpvChild | null = null
  #socketPath: string | null = null
  #running = false
  #closed = false

  constructor(opts: MpvProcessOptions) {
    super()
    this.#opts = opts
  }

  /** True between a successful start() and mpv's exit. */
  get running(): boolean {
    return this.#running
  }
  /** PID of the mpv process once spawned, else null. */
  get pid(): number | null {
    return this.#child?.child.pid ?? null
  }
  /** The IPC socket path (unique per start()), null before start(). */
  get socketPath(): string | null {
    return this.#socketPath
  }

  /**
   * Spawns mpv idle and waits until its IPC socket answers (170–210 ms alone, up to ~1 s with
   * other mpv instances starting in parallel). mpv flags: node-mpv's own `--idle
   * --msg-level=all=no,ipc=v --input-ipc-server=<socket>`, then #mpvArgs().
   * @throws MpvNotInstalledError before any spawn when the binary is missing.
   * @throws TimeoutError ERR_TIMEOUT after startTimeoutMs; mpv is SIGKILLed (gotcha 2).
   * @throws MpvError ERR_MPV_EXITED when mpv exits during start-up (e.g. a bad flag);
   *   ERR_MPV_COMMAND when start() was already called.
   */
  async start(): Promise<void> {
    const { log, startTimeoutMs, playerArgs } = this.#opts
    if (this.#mpv) throw new MpvError('ERR_MPV_COMMAND', 'MpvPlayer.start() was already called')
    const binary = findMpv(this.#opts.binary)
    if (binary === null) throw new MpvNotInstalledError(this.#opts.binary)
    const socketPath = (this.#socketPath = makeSocketPath())
    const args = this.#mpvArgs()
    log(`spawning ${binary} ${args.join(' ')} --input-ipc-server=${socketPath}`)
    // auto_restart off: node-mpv would respawn a crashed mpv behind our back. ipc_command given:
    // otherwise node-mpv runs `mpv --version` through a shell first to pick it (~200 ms more on
    // every start); every mpv since 0.17 (2016) takes --input-ipc-server.
    // (ipc_command is read by node-mpv's util.findIPCCommand but missing from its typings.)
    const options = { binary, socket: socketPath, audio_only: this.#opts.audioOnly, auto_restart: false, ipc_command: '--input-ipc-server' }
    const mpv = (this.#mpv = new NodeMpv(options, args))
    const internals = mpv as unknown as NodeMpvInternals
    bufferWholeLines(internals.socket)
    // node-mpv emits every mpv event and property-change on its ipcInterface as 'message'; its own
    // events map playback-restart to 'started' and miss pause (gotcha 4): pass the raw stream on.
    internals.socket.on('message', (msg: MpvMessage) => this.emit('message', msg))
    // Its net.Socket gets an 'error' listener only after connecting; if mpv dies first the
    // connect error would be uncaught.
    internals.socket.socket.on('error', (err: Error) => log(`ipc socket error: ${err.message}`))
    // node-mpv keeps the ChildProcess in `this.mpvPlayer`, assigned synchronously by spawn(): a
    // setter hands it to us at once, so the pid is registered for cleanup before start settles.
    // A start() that already failed (timeout) may still spawn later: kill that mpv at once.
    let spawned: ChildProcess | undefined
    let abandoned = false
    Object.defineProperty(mpv, 'mpvPlayer', {
      configurable: true,
      get: () => spawned,
      set: (child: ChildProcess) => {
        spawned = child
        this.#child = new MpvChild(child, socketPath, log, (code, signal) => {
          this.#running = false
          this.emit('exit', code, signal)
        })
        if (abandoned || this.#closed) void this.#kill()
      }
    })
    const t0 = performance.now()
    let timer: NodeJS.Timeout | undefined
    let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`mpv did not open its IPC socket within ${startTimeoutMs} ms`)), startTimeoutMs)
        onExit = (code, signal) => {
          // node-mpv's --msg-level=all=no hides even mpv's "option not found": hint at the cause.
          const userArgs = playerArgs.filter((a) => !isReserved(a))
          const hint = this.#child?.stderrTail.trim() || (userArgs.length > 0 ? `check the player args ${userArgs.join(' ')}` : '')
          reject(new MpvError('ERR_MPV_EXITED', `mpv exited during start-up (code ${code}, signal ${signal})${hint ? `: ${hint}` : ''}`))
        }
        this.once('exit', onExit)
        mpv.start().then(resolve, (err: unknown) => reject(commandError('start', err)))
      })
    } catch (err) {
      abandoned = true
      await this.#kill()
      throw err
    } finally {
      clearTimeout(timer)
      if (onExit) this.off('exit', onExit)
    }
    this.#running = true
    log(`mpv ready (pid ${this.pid}) in ${Math.round(performance.now() - t0)} ms`)
  }

  /** Sends an mpv command (`loadfile`, `seek`, `stop`…). @throws MpvError */
  command(name: string, args: string[]): Promise<void> {
    return this.#call((mpv) => mpv.command(name, args), name)
  }

  /** Sets an mpv property. @throws MpvError */
  setProperty(name: string, value: unknown): Promise<void> {
    return this.#call((mpv) => mpv.setProperty(name, value), `set ${name}`)
  }

  /** Reads an mpv property (typed string by node-mpv; mpv's JSON numbers stay numbers). @throws MpvError */
  getProperty(name: string): Promise<unknown> {
    return this.#call((mpv) => mpv.getProperty(name) as Promise<unknown>, `get ${name}`)
  }

  /** Observes one more mpv property: its changes arrive as 'message' property-change lines. @throws MpvError */
  observe(name: string): Promise<void> {
    return this.#call((mpv) => mpv.observeProperty(name) as Promise<unknown> as Promise<void>, `observe ${name}`)
  }

  /**
   * Quits mpv and resolves after the process exited (SIGKILL after 2 s if it ignores `quit`),
   * then deletes the socket file mpv 0.35 leaves behind. Safe to call at any time, repeatedly; a
   * start() after it kills its mpv at once.
   */
  async quit(): Promise<void> {
    this.#closed = true
    const mpv = this.#mpv
    const graceful = mpv !== null && this.#running
    if (graceful) {
      // node-mpv's quit() awaits the reply to `quit`, which mpv may never send: don't await it.
      mpv.quit().catch((err: unknown) => this.#opts.log(`quit: ${commandError('quit', err).message}`))
    }
    await this.#kill(graceful ? 2000 : 0)
  }

  /**
   * Ours: `--no-config --ytdl=no --no-input-terminal --cache=yes` (`--no-terminal` is NOT passed:
   * it hides the "Listening to IPC socket" line node-mpv waits for), `--input-ipc-client=fd://0`
   * (gotcha 5: libuv's stdin pipe is a socketpair), `--vo=null --ao=null` when headless,
   * `--demuxer-lavf-analyzeduration=0.1` when audioOnly, then playerArgs minus RESERVED_ARGS.
   * `--demuxer=lavf --access-references=no`: content from peers never reaches mpv's playlist,
   * EDL or cue demuxers, and references inside a file are not followed (media-format.ts).
   */
  #mpvArgs(): string[] {
    const args = ['--no-config', '--ytdl=no', '--no-input-terminal', '--cache=yes', '--demuxer=lavf', '--access-references=no']
    if (process.platform !== 'win32') args.push('--input-ipc-client=fd://0')
    if (this.#opts.headless) args.push('--vo=null', '--ao=null')
    if (this.#opts.audioOnly) args.push('--demuxer-lavf-analyzeduration=0.1')
    for (const arg of this.#opts.playerArgs) {
      if (isReserved(arg)) this.#opts.log(`ignoring player arg ${arg}: p2ptube manages it`)
      else args.push(arg)
    }
    return args
  }

  /** Ends mpv (SIGKILL after `graceMs`) and deletes its socket file. */
  async #kill(graceMs = 0): Promise<void> {
    await this.#child?.kill(graceMs)
    this.#running = false
    if (this.#socketPath) removeSocket(this.#socketPath)
  }

  /**
   * Runs one node-mpv call. node-mpv never settles a request whose reply is lost when mpv dies,
   * so the call races mpv's exit; its plain-object rejections become MpvError.
   */
  async #call<T>(fn: (mpv: NodeMpv) => Promise<T>, what: string): Promise<T> {
    const mpv = this.#mpv
    if (!mpv || !this.#running || !this.#child) throw new MpvError('ERR_MPV_EXITED', 'mpv is not running (call start() first)')
    try {
      return await Promise.race([fn(mpv), this.#child.exitError])
    } catch (err) {
      throw err instanceof MpvError ? err : commandError(what, err)
    }
  }
}
