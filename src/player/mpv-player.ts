/**
 * Drives an external mpv through node-mpv 2.0.0-beta.2 and works around its known faults.
 * Every gotcha cited here as "gotcha N" is numbered as in ../shared/reference/mpv-and-streaming.md
 * ("The npm wrappers"); every other node-mpv quirk is named where it is handled.
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { accessSync, constants as fsConstants, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve as resolvePath } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import nodeMpvModule from 'node-mpv'
import { AbortError, P2PTubeError, TimeoutError } from '../protocol/errors.ts'

// node-mpv's index.d.ts declares `export default class` but lib/ is CommonJS (`module.exports =
// mpv`): under NodeNext the default import is that class itself, while tsc types it as the module.
const NodeMpv = nodeMpvModule as unknown as typeof nodeMpvModule.default
type NodeMpv = InstanceType<typeof NodeMpv>

/** mpv is not on PATH (or `binary` is not an executable file). `code` is 'ERR_MPV_NOT_FOUND'. */
export class MpvNotInstalledError extends P2PTubeError {
  constructor(binary = 'mpv') {
    super(
      'ERR_MPV_NOT_FOUND',
      `mpv was not found (looked for "${binary}"); p2ptube plays media in mpv: install it ` + '(Debian/Ubuntu: sudo apt-get install mpv; macOS: brew install mpv) or pass its path'
    )
  }
}

/**
 * mpv refused a command, failed to load a file, or exited while something waited on it.
 * `code` is 'ERR_MPV_COMMAND', 'ERR_MPV_LOAD' or 'ERR_MPV_EXITED'.
 */
export class MpvError extends P2PTubeError {}

/**
 * Resolves `binary` like a shell would, without spawning one: a name containing '/' is checked
 * as a path, a bare name is looked up in each `process.env.PATH` directory.
 * @returns the absolute path of an executable regular file, or null when there is none.
 */
export function findMpv(binary = 'mpv'): string | null {
  const candidates = binary.includes('/')
    ? [resolvePath(binary)]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, binary))
  for (const file of candidates) {
    try {
      accessSync(file, fsConstants.X_OK)
      if (statSync(file).isFile()) return file
    } catch {
      // not there or not executable: try the next directory
    }
  }
  return null
}

/** True when no display server is reachable: neither DISPLAY nor WAYLAND_DISPLAY is set (non-empty). */
export function isHeadless(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.DISPLAY && !env.WAYLAND_DISPLAY
}

/** Options of {@link MpvPlayer}. */
export interface MpvPlayerOptions {
  /** mpv executable, a name looked up on PATH or a path. Default 'mpv'. */
  binary?: string
  /** Add `--vo=null --ao=null` (no window, no sound). Default {@link isHeadless}(). */
  headless?: boolean
  /** Extra mpv flags (the CLI's --player-args), appended last so they win; see RESERVED_ARGS. */
  playerArgs?: string[]
  /** No video decoding (`--no-video --no-audio-display`), quicker audio probing. Default false. */
  audioOnly?: boolean
  /** Limit for spawn → IPC ready, in ms. Default 5000. */
  startTimeoutMs?: number
  /** Debug sink (`p2ptube:player` namespace is up to the caller). Default: discard. */
  logger?: (msg: string) => void
}

/** Why a file stopped, from mpv's `end-file` event: 'eof' is the natural end. */
export interface MpvEndInfo {
  reason: 'eof' | 'stop' | 'quit' | 'error' | 'redirect' | 'unknown'
  /** mpv's `file_error` text when reason is 'error'. */
  error?: string
}

/** Events of {@link MpvPlayer}; times are in seconds. */
export interface MpvPlayerEvents {
  /** `time-pos` changed (about once per video frame / audio block while playing). */
  position: [seconds: number]
  duration: [seconds: number]
  /** The `pause` property changed. */
  pause: [paused: boolean]
  /** mpv's playback-restart event: first frame shown after a load, or a seek finished. */
  'playback-restart': []
  /** A file stopped playing (every mpv end-file, including replacement by play() and stop()). */
  end: [info: MpvEndInfo]
  /** The mpv process exited (quit, crash, or killed). */
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

/** A JSON line mpv sends on its own (no request_id): an event, or a property-change. */
interface MpvMessage {
  event: string
  name?: string
  data?: unknown
  reason?: string
  file_error?: string
}

/** node-mpv internals this module relies on (not in its index.d.ts; read from lib/ in 2.0.0-beta.2). */
interface NodeMpvInternals {
  socket: EventEmitter & { socket: EventEmitter; dataHandler: (data: Buffer | string) => void }
  mpvPlayer?: ChildProcess
}

interface Waiter {
  match: (msg: MpvMessage) => boolean
  resolve: () => void
  reject: (err: Error) => void
}

/** A pending wait for an mpv message; `cancel()` resolves it and stops matching. */
interface Wait {
  done: Promise<void>
  cancel: () => void
}

/**
 * The one process-wide state this module keeps (the only exception to "no module-level mutable
 * state"): pid → socket path of every live mpv, so a single 'exit' hook can kill them all
 * synchronously (gotcha 5). 'exit' runs on process.exit() and after an uncaught exception; on
 * SIGINT/SIGTERM the CLI's handlers call quit(), and a signal death without handlers (or SIGKILL)
 * is covered by `--input-ipc-client=fd://0` (see MpvPlayer.start).
 */
const liveMpv = new Map<number, string>()
let exitHookInstalled = false
let socketSeq = 0
let socketsSwept = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const [pid, socketPath] of liveMpv) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
      rmSync(socketPath, { force: true })
    }
    liveMpv.clear()
  })
}

const SOCKET_NAME = /^p2ptube-mpv-(\d+)-\d+-[0-9a-f]{8}\.sock$/

/**
 * Deletes socket files left by p2ptube processes that no longer exist (the pid in the name is the
 * owning Node process). mpv 0.35 never deletes its socket, and after a signal death of Node no
 * exit hook runs, so these pile up otherwise. start() calls it once per process.
 * @returns the paths removed.
 */
export function sweepStaleSockets(dirs: string[] = [...new Set([tmpdir(), '/tmp'])]): string[] {
  const removed: string[] = []
  for (const dir of dirs) {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names) {
      const owner = Number(SOCKET_NAME.exec(name)?.[1] ?? 0)
      if (owner === 0 || owner === process.pid) continue
      try {
        process.kill(owner, 0)
        continue // owner alive (or not ours to signal): leave it
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue
      }
      rmSync(join(dir, name), { force: true })
      removed.push(join(dir, name))
    }
  }
  return removed
}

/** Unique and short: a UNIX socket path over ~107 bytes makes node-mpv hang (gotchas 1 and 2). */
function makeSocketPath(): string {
  const name = `p2ptube-mpv-${process.pid}-${++socketSeq}-${randomBytes(4).toString('hex')}.sock`
  const path = join(tmpdir(), name)
  return Buffer.byteLength(path) <= 100 ? path : join('/tmp', name)
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
 * One mpv process, controlled over its JSON IPC socket through node-mpv.
 * Lifecycle: `new` (no I/O) → start() → play()/pause()/seek()… → quit(). Events: {@link MpvPlayerEvents}.
 * No mpv outlives the Node process: see start() and the module's exit hook.
 */
export class MpvPlayer extends EventEmitter<MpvPlayerEvents> {
  readonly #binary: string
  readonly #headless: boolean
  readonly #playerArgs: string[]
  readonly #audioOnly: boolean
  readonly #startTimeoutMs: number
  readonly #log: (msg: string) => void
  #mpv: NodeMpv | null = null
  #child: ChildProcess | null = null
  #exited: Promise<void> | null = null
  /** Rejects with ERR_MPV_EXITED when mpv exits; raced by every command (see #send). */
  #exitError: Promise<never> = Promise.reject(new MpvError('ERR_MPV_EXITED', 'mpv is not running'))
  #socketPath: string | null = null
  #waiters = new Set<Waiter>()
  #position: number | null = null
  #duration: number | null = null
  #paused = false
  #running = false
  #closed = false
  #stderrTail = ''

  constructor(opts: MpvPlayerOptions = {}) {
    super()
    this.#exitError.catch(() => {})
    this.#binary = opts.binary ?? 'mpv'
    this.#headless = opts.headless ?? isHeadless()
    this.#playerArgs = opts.playerArgs ?? []
    this.#audioOnly = opts.audioOnly ?? false
    this.#startTimeoutMs = opts.startTimeoutMs ?? 5000
    this.#log = opts.logger ?? (() => {})
  }

  /** Current playback position in seconds (mpv `time-pos`), null when nothing is loaded. */
  get position(): number | null {
    return this.#position
  }
  /** Duration of the current file in seconds, null while unknown. */
  get duration(): number | null {
    return this.#duration
  }
  /** mpv's `pause` property. */
  get paused(): boolean {
    return this.#paused
  }
  /** True between a successful start() and mpv's exit. */
  get running(): boolean {
    return this.#running
  }
  /** PID of the mpv process once spawned, else null. */
  get pid(): number | null {
    return this.#child?.pid ?? null
  }
  /** The IPC socket path of this instance (unique per start()), null before start(). */
  get socketPath(): string | null {
    return this.#socketPath
  }

  /**
   * Spawns mpv idle and waits until its IPC socket answers (measured 170–210 ms alone, up to ~1 s
   * with other mpv instances starting in parallel).
   * mpv flags: node-mpv's own `--idle --msg-level=all=no,ipc=v` and `--input-ipc-server=<unique
   * short path>`; ours `--no-config --ytdl=no --no-input-terminal --cache=yes` (`--no-terminal` is
   * NOT passed: it hides the "Listening to IPC socket" line node-mpv waits for, so start() would
   * hang), `--input-ipc-client=fd://0` (libuv's stdin pipe is a socketpair, so mpv gets an IPC
   * client that closes when Node dies, even on SIGKILL, and mpv then quits by itself), `--vo=null
   * --ao=null` when headless, `--demuxer-lavf-analyzeduration=0.1` when audioOnly (mp3 start 1 s →
   * 260 ms per the reference), then the user's playerArgs minus RESERVED_ARGS.
   * @throws MpvNotInstalledError before any spawn when the binary is missing.
   * @throws TimeoutError (code 'ERR_TIMEOUT') after startTimeoutMs; mpv is SIGKILLed (gotcha 2).
   * @throws MpvError 'ERR_MPV_EXITED' when mpv exits during start-up (e.g. a bad flag).
   */
  async start(): Promise<void> {
    if (this.#mpv) throw new MpvError('ERR_MPV_COMMAND', 'MpvPlayer.start() was already called')
    const binary = findMpv(this.#binary)
    if (binary === null) throw new MpvNotInstalledError(this.#binary)
    installExitHook()
    if (!socketsSwept) {
      socketsSwept = true
      for (const path of sweepStaleSockets()) this.#log(`removed stale socket ${path}`)
    }
    const socketPath = (this.#socketPath = makeSocketPath())
    const args = this.#mpvArgs()
    this.#log(`spawning ${binary} ${args.join(' ')} --input-ipc-server=${socketPath}`)
    // auto_restart off: node-mpv would respawn a crashed mpv behind our back. ipc_command given:
    // otherwise node-mpv runs `mpv --version` through a shell first to pick it (~200 ms more on
    // every start); every mpv since 0.17 (2016) takes --input-ipc-server.
    // (ipc_command is read by node-mpv's util.findIPCCommand but missing from its typings.)
    const options = { binary, socket: socketPath, audio_only: this.#audioOnly, auto_restart: false, ipc_command: '--input-ipc-server' }
    const mpv = (this.#mpv = new NodeMpv(options, args))
    const internals = mpv as unknown as NodeMpvInternals
    bufferWholeLines(internals.socket)
    // node-mpv emits every mpv event and property-change on its ipcInterface as 'message'; its own
    // events map playback-restart to 'started' and miss pause (gotcha 4), so we read the raw stream.
    internals.socket.on('message', (msg: MpvMessage) => this.#onMessage(msg))
    // Its net.Socket gets an 'error' listener only after connecting; if mpv dies first the
    // connect error would be uncaught.
    internals.socket.socket.on('error', (err: Error) => this.#log(`ipc socket error: ${err.message}`))
    // node-mpv keeps the ChildProcess in `this.mpvPlayer`, assigned synchronously by spawn(): a
    // setter hands it to us at once, so the pid is registered for cleanup before start settles.
    // A start() that already failed (timeout) may still spawn later: kill that mpv at once.
    let child: ChildProcess | undefined
    let abandoned = false
    Object.defineProperty(mpv, 'mpvPlayer', {
      configurable: true,
      get: () => child,
      set: (spawned: ChildProcess) => {
        child = spawned
        this.#adopt(spawned, socketPath)
        if (abandoned || this.#closed) void this.#kill()
      }
    })
    const t0 = performance.now()
    let timer: NodeJS.Timeout | undefined
    let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`mpv did not open its IPC socket within ${this.#startTimeoutMs} ms`)), this.#startTimeoutMs)
        onExit = (code, signal) => {
          // node-mpv's --msg-level=all=no hides even mpv's "option not found": hint at the cause.
          const userArgs = this.#playerArgs.filter((a) => !isReserved(a))
          const hint = this.#stderrTail.trim() || (userArgs.length > 0 ? `check the player args ${userArgs.join(' ')}` : '')
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
    this.#log(`mpv ready (pid ${this.pid}) in ${Math.round(performance.now() - t0)} ms`)
  }

  /**
   * Loads `url` (replacing the current file) and resolves once mpv reports `file-loaded`, i.e.
   * demuxer opened; the first frame follows as 'playback-restart'. Meant for the local HTTP server
   * (`http://127.0.0.1:<port>/…`); a path or any other mpv source is passed unchanged, since we
   * send `loadfile` ourselves instead of node-mpv's load() (gotcha 3; its load() also gives up
   * after 10 socket chunks and parses split lines unsafely).
   * @throws MpvError 'ERR_MPV_LOAD' when mpv ends the file with an error (e.g. HTTP 404, bad data).
   * @throws AbortError when `signal` aborts; MpvError 'ERR_MPV_EXITED' if mpv exits meanwhile.
   * A play() superseded by a newer one rejects with ERR_MPV_LOAD (reason 'stop').
   */
  async play(url: string, { signal }: { signal?: AbortSignal } = {}): Promise<void> {
    const mpv = this.#requireRunning()
    let started = false
    let failure: MpvEndInfo | undefined
    const loaded = this.#waitFor((msg) => {
      if (msg.event === 'start-file') started = true
      else if (started && msg.event === 'end-file') {
        failure = endInfo(msg)
        return true
      }
      return started && msg.event === 'file-loaded'
    }, signal)
    await this.#send(() => mpv.command('loadfile', [url, 'replace']), 'loadfile', loaded)
    await loaded.done
    const end = failure as MpvEndInfo | undefined
    if (end) throw new MpvError('ERR_MPV_LOAD', `mpv could not play ${url}: ${end.error ?? end.reason}`)
  }

  /** Pauses; resolves when mpv acknowledged, with `paused` already true. @throws MpvError */
  async pause(): Promise<void> {
    const mpv = this.#requireRunning()
    await this.#send(() => mpv.setProperty('pause', true), 'pause')
    this.#setPaused(true)
  }

  /** Resumes; resolves when mpv acknowledged, with `paused` already false. @throws MpvError */
  async resume(): Promise<void> {
    const mpv = this.#requireRunning()
    await this.#send(() => mpv.setProperty('pause', false), 'resume')
    this.#setPaused(false)
  }

  /** Flips the pause state. @throws MpvError */
  async togglePause(): Promise<void> {
    await (this.#paused ? this.resume() : this.pause())
  }

  /**
   * Seek (exact by default, or to the nearest keyframe with `precision: "keyframes"`); resolves when mpv's playback-restart reports the seek done (or the file ended),
   * with `position` re-read from mpv. `seconds` is a target (absolute) or an offset (relative).
   * Seeking into bytes not yet downloaded works through the HTTP server (~170 ms per reference).
   * @throws MpvError 'ERR_MPV_COMMAND' when nothing is loaded or the file is not seekable.
   */
  async seek(seconds: number, mode: 'absolute' | 'relative' = 'relative', { signal, precision = 'exact' }: { signal?: AbortSignal; precision?: 'exact' | 'keyframes' } = {}): Promise<void> {
    const mpv = this.#requireRunning()
    let seeking = false
    const done = this.#waitFor((msg) => {
      if (msg.event === 'seek') seeking = true
      return (seeking && msg.event === 'playback-restart') || msg.event === 'end-file'
    }, signal)
    // 'keyframes' lands on the nearest keyframe: while streaming it needs far fewer bytes than an
    // exact seek, which decodes from the keyframe before the target (mpv's arrow-key default).
    await this.#send(() => mpv.command('seek', [String(seconds), `${mode}+${precision}`]), 'seek', done)
    await done.done
    // time-pos may arrive after playback-restart: re-read it so `position` is current on return.
    const pos = await this.#send(() => mpv.getProperty('time-pos'), 'get time-pos')
    if (typeof pos === 'number') this.#setPosition(pos)
  }

  /** Stops playback and unloads the file; mpv stays running (idle). @throws MpvError */
  async stop(): Promise<void> {
    const mpv = this.#requireRunning()
    await this.#send(() => mpv.command('stop', []), 'stop')
  }

  /**
   * Quits mpv and resolves after the process exited (SIGKILL after 2 s if it ignores `quit`),
   * then deletes the socket file mpv 0.35 leaves behind. Safe to call at any time, repeatedly.
   */
  async quit(): Promise<void> {
    this.#closed = true
    const mpv = this.#mpv
    const graceful = mpv !== null && this.#running
    if (graceful) {
      // node-mpv's quit() awaits the reply to `quit`, which mpv may never send: don't await it.
      mpv.quit().catch((err: unknown) => this.#log(`quit: ${commandError('quit', err).message}`))
    }
    await this.#kill(graceful ? 2000 : 0)
  }

  #mpvArgs(): string[] {
    const args = ['--no-config', '--ytdl=no', '--no-input-terminal', '--cache=yes']
    if (process.platform !== 'win32') args.push('--input-ipc-client=fd://0')
    if (this.#headless) args.push('--vo=null', '--ao=null')
    if (this.#audioOnly) args.push('--demuxer-lavf-analyzeduration=0.1')
    for (const arg of this.#playerArgs) {
      if (isReserved(arg)) this.#log(`ignoring player arg ${arg}: p2ptube manages it`)
      else args.push(arg)
    }
    return args
  }

  #adopt(child: ChildProcess, socketPath: string): void {
    this.#child = child
    if (child.pid !== undefined) liveMpv.set(child.pid, socketPath)
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) liveMpv.delete(child.pid)
        rmSync(socketPath, { force: true })
        this.#running = false
        this.#position = null
        for (const w of this.#waiters) w.reject(new MpvError('ERR_MPV_EXITED', `mpv exited (code ${code}, signal ${signal})`))
        this.#log(`mpv exited (code ${code}, signal ${signal})`)
        this.emit('exit', code, signal)
        resolve()
      })
    })
    this.#exitError = this.#exited.then(() => {
      throw new MpvError('ERR_MPV_EXITED', 'mpv exited before answering')
    })
    this.#exitError.catch(() => {})
    // For start-up errors; node-mpv drops all stdout/stderr 'data' listeners once IPC is up.
    child.stderr?.on('data', (d: Buffer) => {
      this.#stderrTail = (this.#stderrTail + d.toString()).slice(-2000)
    })
    // Without a listener, a spawn failure would be an uncaught 'error'; 'exit' follows it or not.
    child.on('error', (err) => this.#log(`mpv process error: ${err.message}`))
    // mpv writes events to its fd://0 client, which nobody reads: turn them off so they cannot
    // pile up in the socketpair. EPIPE here just means mpv is already gone.
    child.stdin?.on('error', () => {})
    child.stdin?.write('{"command":["disable_event","all"]}\n')
  }

  /** Ends mpv: waits up to `graceMs` for it to exit on its own, then SIGKILLs it. */
  async #kill(graceMs = 0): Promise<void> {
    const child = this.#child
    if (child && this.#exited && child.exitCode === null && child.signalCode === null) {
      let timer: NodeJS.Timeout | undefined
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs)
      })
      await Promise.race([this.#exited, grace])
      clearTimeout(timer)
      if (child.exitCode === null && child.signalCode === null) {
        try {
          child.kill('SIGKILL')
        } catch {
          /* exited meanwhile */
        }
      }
      await this.#exited
    }
    this.#running = false
    if (this.#socketPath) rmSync(this.#socketPath, { force: true })
  }

  #requireRunning(): NodeMpv {
    if (!this.#mpv || !this.#running) throw new MpvError('ERR_MPV_EXITED', 'mpv is not running (call start() first)')
    return this.#mpv
  }

  /**
   * Runs one node-mpv call. node-mpv never settles a request whose reply is lost when mpv dies,
   * so the call races mpv's exit. On failure `wait` (registered before the call) is cancelled;
   * while the call is in flight its rejection is marked handled, the caller awaits it after.
   */
  async #send<T>(fn: () => Promise<T>, what: string, wait?: Wait): Promise<T> {
    wait?.done.catch(() => {})
    try {
      return await Promise.race([fn(), this.#exitError])
    } catch (err) {
      wait?.cancel()
      throw err instanceof MpvError ? err : commandError(what, err)
    }
  }

  /** Waits for the first raw mpv message `match` accepts; register it before sending the command. */
  #waitFor(match: (msg: MpvMessage) => boolean, signal?: AbortSignal): Wait {
    let waiter!: Waiter
    const done = new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter)
        reject(new AbortError())
      }
      const settle = (): void => {
        this.#waiters.delete(waiter)
        signal?.removeEventListener('abort', onAbort)
      }
      waiter = {
        match,
        resolve: () => {
          settle()
          resolve()
        },
        reject: (err) => {
          settle()
          reject(err)
        }
      }
      if (signal?.aborted) return reject(new AbortError())
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.add(waiter)
    })
    return { done, cancel: () => waiter.resolve() }
  }

  #onMessage(msg: MpvMessage): void {
    if (msg.event === 'property-change') {
      if (msg.name === 'time-pos') this.#setPosition(typeof msg.data === 'number' ? msg.data : null)
      else if (msg.name === 'duration') {
        this.#duration = typeof msg.data === 'number' ? msg.data : null
        if (this.#duration !== null) this.emit('duration', this.#duration)
      } else if (msg.name === 'pause' && typeof msg.data === 'boolean') this.#setPaused(msg.data)
    } else if (msg.event === 'playback-restart') {
      this.emit('playback-restart')
    } else if (msg.event === 'end-file') {
      this.emit('end', endInfo(msg))
    }
    for (const w of this.#waiters) {
      if (w.match(msg)) w.resolve()
    }
  }

  #setPosition(seconds: number | null): void {
    this.#position = seconds
    if (seconds !== null) this.emit('position', seconds)
  }

  #setPaused(paused: boolean): void {
    if (paused === this.#paused) return
    this.#paused = paused
    this.emit('pause', paused)
  }
}

function endInfo(msg: MpvMessage): MpvEndInfo {
  const reasons: MpvEndInfo['reason'][] = ['eof', 'stop', 'quit', 'error', 'redirect']
  const reason = reasons.find((r) => r === msg.reason) ?? 'unknown'
  return msg.file_error ? { reason, error: msg.file_error } : { reason }
}
