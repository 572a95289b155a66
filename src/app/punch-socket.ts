/**
 * The sockets of TCP hole punching (PROTOCOL.md §7.11; src/app/reach.ts): a connection from a
 * bound port (SO_REUSEADDR, so the port that talks to the tracker can connect elsewhere too), the
 * punch's repeated connect, and the node's transport over a bound port's connection to the
 * tracker (a group's mutual TLS).
 */
import net from 'node:net'
import { noRoute } from '../net/route.ts'
import type { Transport } from '../net/transport.ts'
import { AbortError, errText, P2PTubeError, TimeoutError } from '../protocol/errors.ts'

/**
 * `raw` (a connection to the tracker from a bound port) with `transport` over it: as it is for
 * plain TCP; in a group, mutual TLS as client, once handshaken (PROTOCOL.md §7.11).
 * @throws P2PTubeError ERR_NO_ROUTE (a transport that cannot run over a socket), ERR_CONNECT (the
 *   handshake failed), TimeoutError after `timeoutMs`; `raw` is destroyed then.
 */
export function secured(transport: Transport, raw: net.Socket, type: string, timeoutMs: number): Promise<net.Socket> {
  if (transport.kind === 'plain') return Promise.resolve(raw)
  if (!transport.over) {
    raw.destroy()
    return Promise.reject(noRoute('punch', `the ${transport.kind} transport cannot run over a bound port`))
  }
  const socket = transport.over(raw, { type })
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      raw.destroy()
      reject(err instanceof P2PTubeError || err instanceof TimeoutError ? err : new P2PTubeError('ERR_CONNECT', `punch: no TLS with the tracker: ${errText(err)}`, { cause: err }))
    }
    const timer = setTimeout(() => fail(new TimeoutError(`punch: no TLS handshake with the tracker within ${timeoutMs} ms`)), timeoutMs)
    socket.once('error', fail)
    socket.once(transport.readyEvent, () => {
      clearTimeout(timer)
      socket.off('error', fail)
      socket.on('error', () => socket.destroy())
      resolve(socket)
    })
  })
}

/**
 * A plain TCP connection from `localAddress` (and `localPort`: bound with SO_REUSEADDR, as libuv
 * binds, so a port that has a connection to the tracker can connect elsewhere too).
 * @throws P2PTubeError ERR_CONNECT, TimeoutError, AbortError.
 */
export function connectFrom(o: { host: string; port: number; localAddress: string; localPort?: number }, timeoutMs: number, signal: AbortSignal | undefined): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError())
    const socket = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress, ...(o.localPort ? { localPort: o.localPort } : {}), noDelay: true })
    const done = (err: Error | null): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.removeAllListeners('error')
      if (!err) {
        // Whoever takes the socket listens for its errors; until then one must not crash the node.
        socket.on('error', () => {})
        return resolve(socket)
      }
      socket.destroy()
      reject(err)
    }
    const onAbort = (): void => done(new AbortError())
    const timer = setTimeout(() => done(new TimeoutError(`connect to ${o.host}:${o.port} timed out after ${Math.round(timeoutMs)} ms`)), timeoutMs)
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', () => done(null))
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err instanceof P2PTubeError ? err : new P2PTubeError('ERR_CONNECT', `cannot connect to ${o.host}:${o.port}: ${err.code ?? err.message}`, { cause: err }))
    )
  })
}

/** Pause between punch attempts after a reset, ms. */
const PUNCH_RETRY_MS = 10

/**
 * The connect of a punch: again and again from the same port until `timeoutMs` is over, as long
 * as the other side's NAT answers with a reset (its router's own stack refusing a SYN that came
 * before the other side's own SYN opened the way: only SYNs that cross in flight get through).
 * @throws as connectFrom, the last attempt's error.
 */
export async function punchConnect(o: { host: string; port: number; localAddress: string; localPort: number }, timeoutMs: number, signal: AbortSignal | undefined): Promise<net.Socket> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    try {
      return await connectFrom(o, Math.max(1, deadline - performance.now()), signal)
    } catch (err) {
      if (!(err instanceof P2PTubeError) || err.code !== 'ERR_CONNECT' || performance.now() + PUNCH_RETRY_MS >= deadline) throw err
      await new Promise((r) => setTimeout(r, PUNCH_RETRY_MS))
    }
  }
}
