/**
 * Forged holders for swarm tests (issue #11 item 6 and the early-close low item): a TCP server
 * that stands for a holder of one real file. HASH is forwarded to a real node (so the hash list
 * is the honest one: nothing it sends is corrupt); RGET is answered either
 * - `drip`: from the file itself, in 2 048-byte data frames, the meta frame at once and then one
 *   data frame every `dripMs` (a slow holder that never stalls long enough to be called stalled), or
 * - `closeOnce`: forwarded to the real node, but the first RGET's connection is closed (FIN, at a
 *   frame boundary) after `closeAfterBytes` data bytes; later RGETs pass through whole.
 * Every RGET's offset and length is recorded in `rgets`.
 */
import type { ExecutionContext } from 'ava'
import fs from 'node:fs/promises'
import net from 'node:net'
import { CHUNK_SIZE } from '../../src/protocol/constants.ts'
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.ts'

export interface ProxyHolder {
  id: string
  host: string
  port: number
  /** RGETs received: byte offset and length. */
  rgets: Array<{ offset: number; length: number }>
  /** Connections closed early on purpose (closeOnce). */
  closed: number
  /** Resolves at the next RGET received. */
  nextRget(): Promise<void>
}

export type ProxyMode = { drip: { file: string; name: string; cid: string; dripMs: number } } | { closeOnce: { closeAfterBytes: number } }

/**
 * Start a forged holder in front of the real node `target` (its HASH answers are used).
 * Closed at teardown, with every socket and timer.
 */
export async function proxyHolder(t: ExecutionContext, target: { host: string; port: number }, mode: ProxyMode): Promise<ProxyHolder> {
  const sockets = new Set<net.Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let closedOnce = false
  const rgetWaiters: Array<() => void> = []
  const state: ProxyHolder = {
    id: '',
    host: '127.0.0.1',
    port: 0,
    rgets: [],
    closed: 0,
    nextRget: () => new Promise<void>((resolve) => rgetWaiters.push(resolve))
  }
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    const decoder = new FrameDecoder(() => ({ maxLength: 4096 }), {
      frame: (type, payload) => {
        if (type === 'RGET') {
          const q = JSON.parse(payload.toString()) as { offset: number; length?: number }
          state.rgets.push({ offset: q.offset, length: q.length ?? -1 })
          for (const w of rgetWaiters.splice(0)) w()
          if ('drip' in mode) return void drip(client, q, mode.drip)
          if (!closedOnce) return void forward(client, type, payload, mode.closeOnce.closeAfterBytes)
        }
        forward(client, type, payload, Infinity)
      }
    })
    client.on('data', (c: Buffer) => decoder.push(c))
  })

  /** Send the real node's reply back, re-framed; close (FIN) at a frame boundary after `closeAfter` data bytes. */
  function forward(client: net.Socket, type: string, payload: Buffer, closeAfter: number): void {
    const up = net.connect(target.port, target.host)
    sockets.add(up)
    up.on('close', () => sockets.delete(up))
    up.on('error', () => client.destroy())
    client.on('close', () => up.destroy())
    let frames = 0
    let sent = 0
    const replies = new FrameDecoder(() => ({ maxLength: 2 << 20 }), {
      frame: (t2, p) => {
        if (client.destroyed || client.writableEnded) return
        client.write(encodeFrame(t2, p))
        if (frames++ > 0) sent += p.length
        if (sent >= closeAfter) {
          closedOnce = true
          state.closed++
          client.end()
          up.destroy()
        }
      }
    })
    up.on('data', (c: Buffer) => replies.push(c))
    up.on('end', () => client.end())
    up.write(encodeFrame(type, payload))
  }

  /** Answer an RGET from the file: the meta frame, then one 2 048-byte data frame every `dripMs`. */
  function drip(client: net.Socket, q: { offset: number; length?: number }, d: { file: string; name: string; cid: string; dripMs: number }): void {
    void (async () => {
      const bytes = await fs.readFile(d.file)
      const length = Math.min(q.length ?? bytes.length - q.offset, bytes.length - q.offset)
      client.write(encodeFrame('REPL', JSON.stringify({ name: d.name, size: bytes.length, cid: d.cid, offset: q.offset, length })))
      let pos = q.offset
      const timer = setInterval(() => {
        if (client.destroyed || pos >= q.offset + length) {
          clearInterval(timer)
          timers.delete(timer)
          if (!client.destroyed) client.end()
          return
        }
        const n = Math.min(CHUNK_SIZE, q.offset + length - pos)
        client.write(encodeFrame('REPL', bytes.subarray(pos, pos + n)))
        pos += n
      }, d.dripMs)
      timers.add(timer)
      client.on('close', () => {
        clearInterval(timer)
        timers.delete(timer)
      })
    })()
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as net.AddressInfo).port
  state.id = `127.0.0.1:${state.port}`
  t.teardown(() => {
    for (const timer of timers) clearInterval(timer)
    for (const s of sockets) s.destroy()
    server.close()
  })
  return state
}
