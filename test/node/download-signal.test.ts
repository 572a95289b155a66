/**
 * Download's `signal` option (src/node/download.ts): a node passes its lifecycle signal, so a
 * stopping node cancels its downloads, and a download created before the stop but started after
 * it never touches the disk.
 */
import test from 'ava'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { Download } from '../../src/node/download.ts'
import { tempDir } from '../helpers/nodes.ts'

const CID = 'ab'.repeat(32)

for (const legacy of [false, true]) {
  test(`${legacy ? 'legacy' : 'p2ptube'} download: signal aborted before start() → ERR_ABORTED, no part file, no folder`, async (t) => {
    const dir = path.join(await tempDir(t), 'downloads')
    const ac = new AbortController()
    const d = new Download({ name: 'clip.mp4', ...(legacy ? {} : { cid: CID, size: 1000 }), holder: { host: '127.0.0.1', port: 9, id: '127.0.0.1:9' }, legacy, dir, signal: ac.signal })
    t.teardown(() => d.close())
    ac.abort()
    const err = (await t.throwsAsync(d.start())) as Error & { code: string }
    t.is(err.code, 'ERR_ABORTED')
    t.is(d.state, 'cancelled')
    t.false(existsSync(d.partPath), 'no part file')
    t.false(existsSync(dir), 'not even the download folder was made')
  })
}

test('aborting the signal of a running download cancels it (state cancelled, ERR_ABORTED)', async (t) => {
  // A holder that accepts and never answers: only the abort can end the fetch.
  const sockets = new Set<net.Socket>()
  const holder = net.createServer((s) => void sockets.add(s))
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    holder.close()
  })
  const { port } = holder.address() as net.AddressInfo
  const ac = new AbortController()
  const d = new Download({ name: 'clip.mp4', holder: { host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, legacy: true, dir: await tempDir(t), idleTimeoutMs: 60_000, signal: ac.signal })
  t.teardown(() => d.close())
  const running = d.start()
  await new Promise<void>((resolve) => holder.once('connection', () => resolve()))
  ac.abort()
  const err = (await t.throwsAsync(running)) as Error & { code: string }
  t.is(err.code, 'ERR_ABORTED')
  t.is(d.state, 'cancelled')
})
