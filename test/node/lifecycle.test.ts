/**
 * One lifecycle and cancellation contract (STYLE.md "Dependencies and lifecycle"): start() is all
 * or nothing, stop() starts nothing and waits on no work in flight, and every download the node
 * ever made is closed when it stops.
 */
import test from 'ava'
import net from 'node:net'
import { once } from 'node:events'
import path from 'node:path'
import { P2PNode } from '../../src/app/node.ts'
import { BIG_CLIP, handlesClosed, shareWith, startNode, tempDir } from '../helpers/nodes.ts'

/** A port that was free a moment ago (bound on 127.0.0.1:0, then released). */
async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** Sockets and timers this process holds now (process.getActiveResourcesInfo). */
function resources(): { sockets: number; timers: number } {
  const all = process.getActiveResourcesInfo()
  return { sockets: all.filter((r) => r.startsWith('TCP')).length, timers: all.filter((r) => r === 'Timeout').length }
}

test('start() with a missing share rejects and releases the port it bound', async (t) => {
  const port = await freePort()
  const node = new P2PNode({ port, shares: [path.join(await tempDir(t), 'no-such-share')], dataDir: null, stabilizeIntervalMs: 0, downloadsDir: await tempDir(t) })
  t.teardown(() => node.stop())
  const err = (await t.throwsAsync(node.start())) as Error & { code: string }
  t.is(err.code, 'ERR_SHARE_NOT_FOUND')
  // The port is free again: bind it ourselves.
  const s = net.createServer()
  t.teardown(() => new Promise<void>((r) => s.close(() => r())))
  const bound = await new Promise<true | string>((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    s.listen(port, '127.0.0.1', () => resolve(true))
  })
  t.is(bound, true, `port ${port} is free again after the failed start`)
  await t.notThrowsAsync(node.stop(), 'stop() after a failed start is harmless')
})

test('stop() during a join to a peer that accepts and never answers returns at once; the join is aborted', async (t) => {
  const sockets = new Set<net.Socket>()
  const silent = net.createServer((s) => {
    sockets.add(s)
    s.on('data', () => silent.emit('request'))
    s.on('error', () => {})
  })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((r) => silent.close(() => r()))
  })
  const node = await startNode(t)
  const asked = once(silent, 'request')
  const joining = node.join(`127.0.0.1:${(silent.address() as net.AddressInfo).port}`)
  joining.catch(() => {})
  await asked // NAME is in flight; the peer will never answer (idle timeout 30 s)
  const t0 = performance.now()
  const [stopped, joined] = await Promise.allSettled([node.stop(), joining])
  const ms = performance.now() - t0
  t.is(stopped.status, 'fulfilled')
  t.is(joined.status, 'rejected')
  t.is(((joined as PromiseRejectedResult).reason as { code?: string }).code, 'ERR_ABORTED')
  t.log(`stop() and the join settled in ${Math.round(ms)} ms`)
  t.true(ms < 5000, `stop and the join settled ${Math.round(ms)} ms after stop() (the idle timeout is 30 s)`)
})

test.serial('after stop(), search() and join() start nothing: no timer, no socket, no peer', async (t) => {
  const other = await startNode(t)
  const node = await startNode(t)
  await node.join(other.id)
  t.is(node.peers.size, 1)
  await node.stop()
  let connections = 0
  const counter = net.createServer((s) => {
    connections++
    s.destroy()
  })
  counter.listen(0, '127.0.0.1')
  await once(counter, 'listening')
  t.teardown(() => new Promise<void>((r) => counter.close(() => r())))

  const before = resources()
  let handle: unknown = null
  try {
    handle = node.search('anything', { timeoutMs: 60_000 })
  } catch (err) {
    t.is((err as { code?: string }).code, 'ERR_ABORTED')
  }
  if (handle) t.true((handle as { done: boolean }).done, 'a search after stop is already done')
  t.deepEqual(resources(), before, 'search() after stop made no timer and no socket')

  const err = (await t.throwsAsync(node.join(`127.0.0.1:${(counter.address() as net.AddressInfo).port}`))) as Error & { code: string }
  t.is(err.code, 'ERR_ABORTED')
  t.deepEqual(resources(), before, 'join() after stop made no timer and no socket')
  t.is(connections, 0)
})

test('stop() closes every download the node made, also a cancelled one that a resume replaced', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 500_000 })
  const viewer = await startNode(t)
  const entry = seeder.library.get(BIG_CLIP)!
  const r = { name: entry.name, contentId: entry.cid as string, holder: seeder.id, size: entry.size }
  const first = viewer.fetch(r)
  const running = first.start()
  await once(first, 'progress')
  first.cancel() // the TUI's "cancel": the partial file stays for a resume, the handle is not closed here
  await t.throwsAsync(running)
  const second = viewer.fetch(r) // the TUI's "resume"
  t.not(second, first)
  const resumed = second.start()
  resumed.catch(() => {})
  await once(second, 'progress')
  await viewer.stop()
  t.is(await handlesClosed(first.partPath, 2000), 0, 'no handle on the partial file stays open after stop')
  t.is(second.state, 'cancelled')
})
