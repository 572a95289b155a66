/**
 * p2ptube processes in the network lab (test/helpers/netlab.ts): read a process's JSON events
 * and wait for one, or run a one-shot command to its end.
 */
import type { ExecutionContext } from 'ava'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import type { ChildProcess } from 'node:child_process'
import { labUnavailable, natLab, type LabHost, type NatLab } from './netlab.ts'
import { slow } from './slow.ts'

export const BIN = path.resolve('bin/p2ptube.js')

/** A JSON event printed by `--json`. */
export type LabEvent = Record<string, unknown>

/** The JSON events of a process so far (`all`), and `next(event, pred)`: the first match, seen or to come. */
export interface EventLog {
  all: LabEvent[]
  /** @throws when the process exits first, or after `timeoutMs` (default 30 000 x P2PTUBE_TEST_SLOW). */
  next(event: string, pred?: (e: LabEvent) => boolean, timeoutMs?: number): Promise<LabEvent>
}

/** Follow the JSON lines `p` prints on stdout (stderr is drained). */
export function events(p: ChildProcess): EventLog {
  const all: LabEvent[] = []
  const waiters: { event: string; pred: (e: LabEvent) => boolean; resolve(e: LabEvent): void }[] = []
  readline.createInterface({ input: p.stdout! }).on('line', (line) => {
    let e: LabEvent
    try {
      e = JSON.parse(line) as LabEvent
    } catch {
      return
    }
    all.push(e)
    for (const w of [...waiters]) {
      if (w.event !== e.event || !w.pred(e)) continue
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve(e)
    }
  })
  p.stderr?.resume()
  return {
    all,
    next(event, pred = () => true, timeoutMs = slow(30_000)) {
      const seen = all.find((e) => e.event === event && pred(e))
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeoutMs} ms: ${JSON.stringify(all.slice(-5))}`)), timeoutMs)
        waiters.push({ event, pred, resolve: (e) => (clearTimeout(timer), resolve(e)) })
        p.once('exit', (code) => (clearTimeout(timer), reject(new Error(`process exited (${code}) before "${event}": ${JSON.stringify(all.slice(-5))}`))))
      })
    }
  }
}

/** Run a one-shot p2ptube command (`--json` added) on `host` to its end: exit code and JSON events. */
export async function oneShot(host: LabHost, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; events: LabEvent[] }> {
  const p = host.spawn('node', [BIN, ...args, '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const ev = events(p)
  const [code] = (await once(p, 'exit')) as [number | null]
  return { code, events: ev.all }
}

/**
 * A NAT lab and a temp folder (`label-*`), both removed at the test's end; null (the test passed
 * with the reason) where the lab cannot be built.
 */
export async function natLabFor(t: ExecutionContext, label: string): Promise<{ lab: NatLab; tmp: string } | null> {
  const why = await labUnavailable({ nat: true })
  if (why) {
    t.pass(`skipped: ${why}`)
    return null
  }
  const lab = await natLab()
  t.teardown(() => lab.down())
  const tmp = await mkdtemp(path.join(os.tmpdir(), `${label}-`))
  // Teardowns run last first: this one before lab.down() above. The folder goes once the lab's
  // processes have exited (down() waits): a node still stopping writes its state into it.
  t.teardown(async () => {
    await lab.down()
    await rm(tmp, { recursive: true, force: true })
  })
  return { lab, tmp }
}
