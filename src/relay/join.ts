/**
 * One end of a circuit joining a relay's data port (docs/PROTOCOL.md §10.4): dial it (plain TCP),
 * send RJOI with the one-time token, wait for the relay's REPL; from then on the socket is the
 * spliced stream to the other end.
 */
import net from 'node:net'
import type { Endpoint } from '../net/client.ts'
import { MAX_CONTROL_REPLY, MAX_ERROR_REPLY, MSG } from '../protocol/constants.ts'
import { AbortError, P2PTubeError, RemoteError } from '../protocol/errors.ts'
import { encodeFrame } from '../protocol/frame.ts'
import { formatJoin } from '../protocol/relay-messages.ts'
import { readFrame } from './read-frame.ts'

/**
 * @param timeoutMs for the connect and the relay's answer together (the other end may join late).
 * @returns the spliced socket, paused, with an 'error' listener that destroys it.
 * @throws P2PTubeError ERR_CONNECT, RemoteError (the relay's ERRO: ERR_BAD_TOKEN, ERR_TIMEOUT),
 *   TimeoutError, AbortError.
 */
export function joinCircuit(relay: Endpoint, token: string, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError())
    const socket = net.connect({ host: relay.host, port: relay.port, noDelay: true, allowHalfOpen: true })
    const fail = (err: Error): void => {
      socket.destroy()
      reject(err)
    }
    const onError = (err: NodeJS.ErrnoException): void => fail(new P2PTubeError('ERR_CONNECT', `cannot join the circuit at ${relay.host}:${relay.port}: ${err.code ?? err.message}`, { cause: err }))
    socket.once('error', onError)
    socket.once('connect', () => {
      socket.off('error', onError)
      socket.on('error', () => socket.destroy())
      socket.write(encodeFrame(MSG.RJOI, formatJoin({ token })))
      readFrame(socket, { [MSG.REPL]: MAX_CONTROL_REPLY, [MSG.ERRO]: MAX_ERROR_REPLY }, timeoutMs, signal).then((f) => {
        if (f.type === MSG.ERRO) return fail(new RemoteError(f.payload.toString('utf8')))
        resolve(socket)
      }, fail)
    })
  })
}
