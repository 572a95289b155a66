/**
 * The spawned mpv as a child process, and what must not outlive the Node process: mpv processes
 * and their IPC socket files. mpv-process.ts (the node-mpv side; gotchas 1, 2 and 5 of
 * ../shared/reference/mpv-and-streaming.md) hands every spawned mpv to an MpvChild, which
 * registers it for the process 'exit' hook, and names its socket with makeSocketPath(). mpv 0.35
 * never deletes its `--input-ipc-server` socket, and after a signal death of Node no exit hook
 * runs, so stale socket files are swept once per process. Nothing here touches node-mpv.
 *
 * This module keeps the one process-wide state of src/player (the exception to "no module-level
 * mutable state"): pid → socket path of every live mpv, so a single 'exit' hook can kill them all
 * synchronously, and the socket sequence number.
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MpvError } from './player.ts'

const liveMpv = new Map<number, string>()
let exitHookInstalled = false
let socketSeq = 0
let socketsSwept = false

const SOCKET_NAME = /^p2ptube-mpv-(\d+)-\d+-[0-9a-f]{8}\.sock$/

/**
 * A new socket path, unique (Node pid, sequence number, 4 random bytes) and at most 100 bytes
 * long (in os.tmpdir(), else /tmp): node-mpv hangs on a shared or an over-long path.
 */
export function makeSocketPath(): string {
  const name = `p2ptube-mpv-${process.pid}-${++socketSeq}-${randomBytes(4).toString('hex')}.sock`
  const path = join(tmpdir(), name)
  return Buffer.byteLength(path) <= 100 ? path : join('/tmp', name)
}

/**
 * Register a live mpv (pid, its socket path) for the 'exit' hook, installed on the first call:
 * it runs on process.exit() and after an uncaught exception, SIGKILLs every registered mpv and
 * deletes its socket file. Sweeps stale sockets on the first call too (`log` gets each path).
 */
function trackMpv(pid: number | undefined, socketPath: string, log: (msg: string) => void): void {
  if (!socketsSwept) {
    socketsSwept = true
    for (const path of sweepStaleSockets()) log(`removed stale socket ${path}`)
  }
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => {
      for (const [pid, path] of liveMpv) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          /* already gone */
        }
        rmSync(path, { force: true })
      }
      liveMpv.clear()
    })
  }
  if (pid !== undefined) liveMpv.set(pid, socketPath)
}

/** An mpv exited: forget it and delete its socket file (mpv 0.35 leaves it). */
function untrackMpv(pid: number | undefined, socketPath: string): void {
  if (pid !== undefined) liveMpv.delete(pid)
  rmSync(socketPath, { force: true })
}

/**
 * Deletes socket files left by p2ptube processes that no longer exist (the pid in the name is the
 * owning Node process).
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

/**
 * One spawned mpv: registered for the 'exit' hook until it exits, its socket file deleted when it
 * does, the tail of its stderr kept for start-up errors.
 */
export class MpvChild {
  /** Resolves when the process exited (after `onExit` ran). */
  readonly exited: Promise<void>
  /** Rejects with MpvError ERR_MPV_EXITED once mpv exited: raced by every IPC call. */
  readonly exitError: Promise<never>
  #stderrTail = ''

  /**
   * @param onExit called once with mpv's exit code and signal, after its socket file is deleted.
   * Writes one line to mpv's stdin: the `--input-ipc-client=fd://0` channel (mpv-process.ts).
   */
  constructor(
    readonly child: ChildProcess,
    readonly socketPath: string,
    log: (msg: string) => void,
    onExit: (code: number | null, signal: NodeJS.Signals | null) => void
  ) {
    trackMpv(child.pid, socketPath, log)
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        untrackMpv(child.pid, socketPath)
        log(`mpv exited (code ${code}, signal ${signal})`)
        onExit(code, signal)
        resolve()
      })
    })
    this.exitError = this.exited.then(() => {
      throw new MpvError('ERR_MPV_EXITED', 'mpv exited before answering')
    })
    this.exitError.catch(() => {})
    // For start-up errors; node-mpv drops all stdout/stderr 'data' listeners once IPC is up.
    child.stderr?.on('data', (d: Buffer) => {
      this.#stderrTail = (this.#stderrTail + d.toString()).slice(-2000)
    })
    // Without a listener, a spawn failure would be an uncaught 'error'; 'exit' follows it or not.
    child.on('error', (err) => log(`mpv process error: ${err.message}`))
    // mpv writes events to its fd://0 client, which nobody reads: turn them off so they cannot
    // pile up in the socketpair. EPIPE here just means mpv is already gone.
    child.stdin?.on('error', () => {})
    child.stdin?.write('{"command":["disable_event","all"]}\n')
  }

  /** The last 2000 characters mpv wrote to stderr. */
  get stderrTail(): string {
    return this.#stderrTail
  }

  /** Ends mpv: waits up to `graceMs` for it to exit on its own, then SIGKILLs it; resolves once it exited. */
  async kill(graceMs = 0): Promise<void> {
    const child = this.child
    if (child.exitCode !== null || child.signalCode !== null) return
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs)
    })
    await Promise.race([this.exited, grace])
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL')
      } catch {
        /* exited meanwhile */
      }
    }
    await this.exited
  }
}

/** Deletes a socket file (idempotent). */
export function removeSocket(socketPath: string): void {
  rmSync(socketPath, { force: true })
}
