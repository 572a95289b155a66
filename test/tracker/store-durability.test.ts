/**
 * Tracker store durability (issue #11 item 10): a failed write (disk full) does not break the
 * store for good, a clean SIGTERM writes a snapshot, and a registration is acknowledged only once
 * it is on disk, so a kill -9 loses nothing that was acknowledged.
 */
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { spawnCli, tempDir } from '../helpers/nodes.ts'
import { TrackerStore } from '../../src/tracker/store.ts'
import { ask, freePort } from './helpers.ts'

const run = promisify(execFile)

/** A tmpfs of `bytes` mounted on a new temp folder (root only), unmounted after the test; null when it cannot be. */
async function smallDisk(t: ExecutionContext, bytes: number): Promise<string | null> {
  const dir = await tempDir(t, 'p2ptube-small-disk')
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir])
  } catch (err) {
    t.log(`no tmpfs here (${(err as Error).message.split('\n')[0]}): test skipped`)
    return null
  }
  t.teardown(() => run('umount', ['-l', dir]).then(() => {}))
  return dir
}

/** Fill the file system holding `dir` up to its last byte. */
async function fill(dir: string): Promise<string> {
  const file = path.join(dir, 'filler')
  const h = await fs.open(file, 'w')
  try {
    const block = Buffer.alloc(4096, 1)
    for (;;) await h.write(block)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
  // Single bytes into the last partial block.
  try {
    for (;;) await h.write(Buffer.alloc(1))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    await h.close()
  }
  return file
}

test('disk full: the write fails, the store recovers with the next write once there is room, and close writes a snapshot', async (t) => {
  const disk = await smallDisk(t, 256 * 1024)
  if (!disk) return t.pass()
  const dir = path.join(disk, 'store')
  const logs: string[] = []
  const store = new TrackerStore({ dir, log: (_level, msg) => logs.push(msg) })
  await store.open()
  store.put('peers', 'a', { n: 1 })
  await store.committed()
  const filler = await fill(disk)
  store.put('peers', 'b', { n: 2, pad: 'x'.repeat(8000) })
  const err = await t.throwsAsync(store.committed())
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC')
  t.truthy(store.lastError)
  // Room again: the next change carries the failed one with it.
  await fs.rm(filler)
  store.put('peers', 'c', { n: 3 })
  await store.committed()
  t.is(store.lastError, null)
  t.true(
    logs.some((l) => /journal write failed: .*ENOSPC/.test(l)),
    logs.join('\n')
  )
  // Both rows are in the journal, whole: a reopen (what a kill -9 leaves) has them.
  const crashed = new TrackerStore({ dir })
  await crashed.open()
  t.is(crashed.skipped, 0, 'no torn line: the failed append was cut back')
  t.deepEqual([crashed.get('peers', 'a'), (crashed.get('peers', 'b') as { n: number }).n, crashed.get('peers', 'c')], [{ n: 1 }, 2, { n: 3 }])
  await store.close()
  const snap = JSON.parse(await fs.readFile(path.join(dir, 'snapshot.json'), 'utf8')) as { tables: { peers: Record<string, unknown> } }
  t.deepEqual(Object.keys(snap.tables.peers).sort(), ['a', 'b', 'c'])
})

test('disk full at SIGTERM time, then room: the tracker answers ERR_STORE while full, acknowledges again after, and its SIGTERM snapshot holds every acknowledged peer', async (t) => {
  const disk = await smallDisk(t, 512 * 1024)
  if (!disk) return t.pass()
  const data = path.join(disk, 'tracker')
  const port = await freePort()
  const tracker = spawnCli(t, ['tracker', '--json', '--host', '127.0.0.1', '--port', String(port), '--data', data, '--status-interval', '0', '--max-peers-per-host', '0'])
  await tracker.next('listening')
  const address = `127.0.0.1:${port}`
  t.is((await ask(address, 'TREG', JSON.stringify({ port: 1 }))).type, 'REPL')
  const filler = await fill(disk)
  // Full: registrations are refused (not acknowledged) with a clear code, the tracker serves on.
  let refused = 0
  for (let p = 2; p < 200 && !refused; p++) {
    const r = await ask(address, 'TREG', JSON.stringify({ port: p }))
    if (r.type === 'ERRO') {
      t.regex(r.text, /^ERR_STORE: Register: the tracker could not save the registration: .*ENOSPC/)
      refused = p
    }
  }
  t.true(refused > 0, 'a registration was refused while the disk was full')
  t.is((await ask(address, 'TSTA', '{}')).type, 'REPL')
  await fs.rm(filler)
  const r = await ask(address, 'TREG', JSON.stringify({ port: 1000 }))
  t.is(r.type, 'REPL', r.text)
  tracker.child.kill('SIGTERM')
  await tracker.exited
  const snap = JSON.parse(await fs.readFile(path.join(data, 'snapshot.json'), 'utf8')) as { tables: { peers: Record<string, unknown> } }
  const ids = Object.keys(snap.tables.peers)
  for (let p = 1; p < refused; p++) t.true(ids.includes(`127.0.0.1:${p}`), `acknowledged 127.0.0.1:${p} is in the snapshot`)
  t.true(ids.includes('127.0.0.1:1000'))
})

test('kill -9 after acknowledgements: every acknowledged registration survives', async (t) => {
  const data = await tempDir(t, 'p2ptube-tracker-kill')
  const port = await freePort()
  const tracker = spawnCli(t, ['tracker', '--json', '--host', '127.0.0.1', '--port', String(port), '--data', data, '--status-interval', '0', '--max-peers-per-host', '0'])
  await tracker.next('listening')
  const address = `127.0.0.1:${port}`
  const acked: number[] = []
  let next = 1
  let killed = false
  // 32 registrations in flight at a time; the kill comes in the middle of the stream.
  const worker = async (): Promise<void> => {
    while (!killed) {
      const p = next++
      const r = await ask(address, 'TREG', JSON.stringify({ port: p })).catch(() => null)
      if (r?.type === 'REPL') acked.push(p)
      if (acked.length >= 1500 && !killed) {
        killed = true
        tracker.child.kill('SIGKILL')
      }
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  await tracker.exited
  const store = new TrackerStore({ dir: data })
  await store.open()
  const lost = acked.filter((p) => store.get('peers', `127.0.0.1:${p}`) === undefined)
  t.log(`${acked.length} registrations acknowledged before the kill, ${acked.length - lost.length} on disk after it`)
  t.deepEqual(lost, [], 'no acknowledged registration is lost')
  await store.close()
})
