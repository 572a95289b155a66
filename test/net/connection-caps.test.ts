/**
 * Per-address connection caps (issue #11 item 7): 1,000 idle connections from one host must not
 * fill a node's 512 slots (nor the tracker's): past the per-address cap they are answered
 * ERR_TOO_MANY_CONNECTIONS and closed at once, and other hosts are still served.
 */
import test, { type ExecutionContext } from 'ava'
import net from 'node:net'
import { requestText } from '../../src/net/client.ts'
import { FrameDecoder } from '../../src/protocol/frame.ts'
import { startNode } from '../helpers/nodes.ts'
import { startTracker } from '../tracker/helpers.ts'
import { TrackerSession } from '../../src/tracker/session.ts'

interface Held {
  /** Connections still open and silent (admitted, waiting for a request). */
  open: net.Socket[]
  /** First reply frame per closed connection ('' = closed without one). */
  closed: string[]
}

/** Open `n` connections from `localAddress`, send nothing; settle once each is either closed or open for good. */
async function flood(t: ExecutionContext, port: number, n: number, localAddress: string): Promise<Held> {
  const held: Held = { open: [], closed: [] }
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<{ s: net.Socket; first: () => string; gone: Promise<void> }>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port, localAddress })
          let first = ''
          const dec = new FrameDecoder(() => ({ maxLength: 4096 }), { frame: (type, p) => void (first ||= `${type} ${p.toString()}`) })
          s.on('data', (c: Buffer) => {
            try {
              dec.push(c)
            } catch {
              /* a cut frame: counted as closed without a reply */
            }
          })
          s.on('error', () => {})
          const gone = new Promise<void>((r) => s.once('close', () => r()))
          t.teardown(() => s.destroy())
          s.once('connect', () => resolve({ s, first: () => first, gone }))
          s.once('close', () => resolve({ s, first: () => first, gone }))
        })
    )
  )
  // A refused connection is closed by the server within a round trip; the admitted ones stay.
  // Wait until every socket is either closed or has sat for a full round of closes.
  let before = -1
  for (;;) {
    const closedNow = sockets.filter((x) => x.s.destroyed || x.s.readyState === 'closed').length
    if (closedNow === before) break
    before = closedNow
    await Promise.race([Promise.all(sockets.filter((x) => !x.s.destroyed).map((x) => x.gone)), new Promise((r) => setTimeout(r, 1500))])
  }
  for (const x of sockets) {
    if (x.s.destroyed) held.closed.push(x.first())
    else held.open.push(x.s)
  }
  return held
}

test('1,000 idle connections from one host: 64 held, the rest refused ERR_TOO_MANY_CONNECTIONS; other hosts are served', async (t) => {
  const node = await startNode(t, { requestTimeoutMs: 120_000 })
  const held = await flood(t, node.port, 1000, '127.0.0.2')
  const refused = held.closed.filter((f) => /^ERRO ERR_TOO_MANY_CONNECTIONS: 127\.0\.0\.2 already has 64 connections open$/.test(f)).length
  t.log(`${held.open.length} held open, ${held.closed.length} closed (${refused} with ERR_TOO_MANY_CONNECTIONS)`)
  t.is(held.open.length, 64, 'the per-address cap holds')
  t.true(refused > 0)
  // Another host, and this machine's own address, are served while the 64 are held.
  t.is(await requestText({ host: '127.0.0.1', port: node.port }, 'NAME', ''), node.id)
  const other = net.connect({ host: '127.0.0.1', port: node.port, localAddress: '127.0.0.3' })
  t.teardown(() => other.destroy())
  const reply = await new Promise<string>((resolve, reject) => {
    const dec = new FrameDecoder(() => ({ maxLength: 4096 }), { frame: (type, p) => resolve(`${type} ${p.toString()}`) })
    other.on('data', (c: Buffer) => dec.push(c))
    other.on('error', reject)
    other.once('connect', () => other.write(Buffer.concat([Buffer.from('NAME'), Buffer.alloc(4)])))
  })
  t.is(reply, `REPL ${node.id}`)
})

test('the tracker caps connections per address too: an idle flood from one host leaves sessions of others working', async (t) => {
  const tr = await startTracker(t, { maxConnections: 200 })
  const held = await flood(t, tr.port, 400, '127.0.0.2')
  t.log(`${held.open.length} held open, ${held.closed.length} closed`)
  t.is(held.open.length, 25, 'maxConnections / 8')
  const s = new TrackerSession({ host: '127.0.0.1', port: tr.port }, 5000, '127.0.0.3')
  t.teardown(() => s.close())
  await s.open()
  t.is((await s.request('TSTA', '{}')).type, 'REPL')
})
