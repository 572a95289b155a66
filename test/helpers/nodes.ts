/**
 * Test helpers: temp folders, real media copies, in-process nodes and `p2ptube` child
 * processes speaking --json, each torn down with the test.
 */
import type { ExecutionContext } from 'ava'
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { P2PNode, type NodeOptions } from '../../src/app/node.ts'
import { hashFile } from '../../src/node/content-ids.ts'
import { slow } from './slow.ts'

/** Real media from Debian packages (scripts/setup.sh installs them). */
export const VIDEO_DIR = '/usr/share/lebiniou/vue/media'
export const AUDIO_DIR = '/usr/share/scummvm/drascula/audio'
/** 4.3 MB, 10.6 s, H.264, moov at the end (not faststart). */
export const BIG_CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'
/** 367 kB, 8.9 s. */
export const SMALL_CLIP = 'lebiniou-2021-06-10_12-19-19.mp4'
export const BIN = fileURLToPath(new URL('../../bin/p2ptube.js', import.meta.url))

/**
 * bin/p2ptube.js runs dist/. `npm test` builds first; when ava is run directly after editing
 * src/, the build may be stale (or missing): then child processes run the sources through tsx
 * (CHILD_ARGS, P2PTUBE_FROM_SOURCE).
 */
function distIsStale(): boolean {
  const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
  if (!existsSync(main)) return true
  const built = statSync(main).mtimeMs
  const src = fileURLToPath(new URL('../../src', import.meta.url))
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs), 0)
  return newest(src) > built
}
const STALE = distIsStale()
export const CHILD_ENV: NodeJS.ProcessEnv = STALE ? { P2PTUBE_FROM_SOURCE: '1' } : {}
/** Node flags for a child running bin/p2ptube.js: the tsx loader when it runs the sources. */
export const CHILD_ARGS: string[] = STALE ? ['--import=tsx'] : []

/**
 * XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME and XDG_DOWNLOAD_DIR in a fresh temp folder
 * (removed after the test), so a `p2ptube` child neither reads nor writes this user's config,
 * state, cache or downloads (src/app/dirs.ts), and no two tests share a node's state.
 */
export function isolatedXdg(t: ExecutionContext): Record<string, string> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'p2ptube-xdg-'))
  t.teardown(() => fs.rm(root, { recursive: true, force: true }))
  return { XDG_CONFIG_HOME: path.join(root, 'config'), XDG_DATA_HOME: path.join(root, 'data'), XDG_CACHE_HOME: path.join(root, 'cache'), XDG_DOWNLOAD_DIR: path.join(root, 'Downloads') }
}

/** A fresh temp folder removed after the test. */
export async function tempDir(t: ExecutionContext, label = 'p2ptube-test'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `${label}-`))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  return dir
}

/** A temp share folder holding copies of real clips, optionally under other names. */
export async function shareWith(t: ExecutionContext, files: Array<string | [string, string]>): Promise<string> {
  const dir = await tempDir(t, 'p2ptube-share')
  for (const f of files) {
    const [src, name] = typeof f === 'string' ? [f, f] : f
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await fs.copyFile(path.join(VIDEO_DIR, src), path.join(dir, name))
  }
  return dir
}

/**
 * Overwrite a file in place with same-size `bytes` and give it back its mtime (ns precision):
 * the holder cannot see the change (same inode, size and mtime: src/node/indexed-file.ts) and
 * serves other bytes under the old content id, as a corrupt or malicious holder would.
 */
export async function corruptInPlace(file: string, bytes: Buffer): Promise<void> {
  const st = await fs.stat(file, { bigint: true })
  await fs.writeFile(file, bytes)
  execFileSync('touch', ['-d', `@${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, '0')}`, file])
}

/** SHA-256 of a file, hex. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(file)) h.update(c as Buffer)
  return h.digest('hex')
}

/** Content id of a file (PROTOCOL.md §4.5: its pieces' Merkle root bound to its size), hex. */
export async function contentIdFile(file: string): Promise<string> {
  return (await hashFile(file)).cid
}

/** Start an in-process node on 127.0.0.1:0 (no cache, no stabilizer), stopped after the test. */
export async function startNode(t: ExecutionContext, opts: NodeOptions = {}): Promise<P2PNode> {
  // Unit-level nodes stay on loopback (host 127.0.0.1: listen and advertise); pass host: undefined
  // for the default (every interface, per-connection ids).
  const node = new P2PNode({ host: '127.0.0.1', dataDir: null, stabilizeIntervalMs: 0, maxPeers: 0, downloadsDir: await tempDir(t, 'p2ptube-dl'), ...opts })
  t.teardown(() => node.stop())
  await node.start()
  await node.library.whenHashed()
  return node
}

/** A `p2ptube` child process whose stdout is JSON lines. */
export interface JsonProc {
  child: ChildProcessWithoutNullStreams
  events: Array<Record<string, unknown>>
  /** Next event (from the start of output) matching, waiting for it. */
  next(match: string | ((e: Record<string, unknown>) => boolean), timeoutMs?: number): Promise<Record<string, unknown>>
  send(cmd: Record<string, unknown>): void
  exited: Promise<number | null>
  stderr(): string
}

/**
 * Spawn `p2ptube ARGS` (compiled build when present), killed after the test. Its XDG folders are
 * its own temp folders (isolatedXdg) unless `env` names them.
 */
export function spawnCli(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv = {}): JsonProc {
  // Nodes run on this machine's real network: never ask a real home router for a port from a test.
  if ((args[0] === 'node' || args[0] === 'tui') && !args.some((x) => x.endsWith('port-mapping'))) args = [...args, '--no-port-mapping']
  // Tests script nodes through stdin (send()): JSON commands are opt-in (--stdin); --no-stdin leaves them off.
  if (args[0] === 'node' && args.includes('--json') && !args.some((x) => x.endsWith('-stdin') || x === '--stdin')) args = [...args, '--stdin']
  const child = spawn(process.execPath, [...CHILD_ARGS, BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...CHILD_ENV, ...isolatedXdg(t), ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => (err += String(d)))
  const events: Array<Record<string, unknown>> = []
  const waiters = new Set<() => void>()
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      events.push(JSON.parse(l) as Record<string, unknown>)
    } catch {
      events.push({ event: 'text', text: l })
    }
    for (const w of waiters) w()
  })
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  return {
    child,
    events,
    exited,
    stderr: () => err,
    send: (cmd) => child.stdin.write(JSON.stringify(cmd) + '\n'),
    next(match, timeoutMs = slow(60_000)) {
      const pred = typeof match === 'string' ? (e: Record<string, unknown>) => e.event === match : match
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const e = events.find(pred)
          if (!e) return false
          cleanup()
          resolve(e)
          return true
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no ${String(match)} event in ${timeoutMs} ms; stderr: ${err.slice(-2000)}`))
        }, timeoutMs)
        const onExit = (): void => {
          if (!check()) {
            cleanup()
            reject(new Error(`process exited before ${String(match)}; stderr: ${err.slice(-2000)}`))
          }
        }
        const cleanup = (): void => {
          clearTimeout(timer)
          waiters.delete(w)
          child.off('close', onExit)
        }
        const w = (): void => void check()
        if (check()) return
        waiters.add(w)
        // 'close', not 'exit': at 'exit' the child's last stdout lines may still be unread (seen in CI:
        // `group revoke` printed 'revoked' and exited, and the event was read after the rejection).
        child.once('close', onExit)
      })
    }
  }
}

/** Open file descriptors of this process on `file` (a node or server under test runs in this process). */
export async function openHandlesOn(file: string): Promise<number> {
  let n = 0
  for (const fd of await fs.readdir('/proc/self/fd')) if ((await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) n++
  return n
}

/** Wait until `openHandlesOn(file)` is 0 (polled, at most `ms`); returns the last count. */
export async function handlesClosed(file: string, ms = slow(5000)): Promise<number> {
  const until = Date.now() + ms
  let open = await openHandlesOn(file)
  while (open > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20))
    open = await openHandlesOn(file)
  }
  return open
}
