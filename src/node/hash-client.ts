/**
 * The HASH client (docs/PROTOCOL.md §4.8): ask one holder for the size and the piece hash list of
 * a content id, and check that the answer is for that file and PIECE_SIZE pieces, and that the
 * list's Merkle root and the size give the content id, before any piece is fetched against it.
 */
import { exchange, type Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { MAX_FILE_SIZE, MSG, PIECE_SIZE } from '../protocol/constants.ts'
import { ProtocolError, RemoteError } from '../protocol/errors.ts'
import type { FramePolicy } from '../protocol/frame.ts'
import { hashListMatches } from '../protocol/merkle.ts'
import { parseHashMeta } from '../protocol/messages.ts'
import { MESSAGES, replyPolicy } from '../protocol/table.ts'

/** How a holder is dialled. Times in ms. */
export interface DialOptions {
  connectTimeoutMs?: number | undefined
  idleTimeoutMs?: number | undefined
  /** Default plain TCP (group members: mutual TLS). */
  transport?: Transport | undefined
}

/** A holder's hash list, checked against the content id: the file `size` in bytes and one 32-byte SHA-256 per piece, in order. */
export interface HashList {
  size: number
  hashes: Buffer
}

/**
 * Fetch the hash list of `cid` from `holder`.
 * @throws RemoteError (the holder answered ERRO), ProtocolError ERR_BAD_REPLY (another file or
 *   piece size, over MAX_FILE_SIZE, malformed or incomplete list), ProtocolError
 *   ERR_BAD_HASH_LIST (a list or size that does not give the content id: the holder lies or
 *   holds other bytes), TimeoutError, P2PTubeError ERR_CONNECT.
 */
export async function fetchHashes(holder: Endpoint & { id: string }, cid: string, dial: DialOptions): Promise<HashList> {
  let meta: ReturnType<typeof parseHashMeta> | null = null
  const parts: Buffer[] = []
  let got = 0
  let remote: RemoteError | null = null
  await exchange(
    holder,
    MSG.HASH,
    JSON.stringify({ cid }),
    {
      policy: (t): FramePolicy | undefined => replyPolicy(MESSAGES.HASH.reply, t, !meta),
      frame: (t, p) => {
        if (t === MSG.ERRO) return void (remote = new RemoteError(p.toString('utf8')))
        if (!meta) {
          meta = parseHashMeta(p)
          if (meta.cid !== cid || meta.pieceSize !== PIECE_SIZE || meta.size > MAX_FILE_SIZE || meta.pieces !== Math.ceil(meta.size / PIECE_SIZE)) {
            throw new ProtocolError('ERR_BAD_REPLY', `holder ${holder.id} sent a hash list for another file or piece size`)
          }
          return
        }
        if (p.length % 32 !== 0 || got + p.length > meta.pieces * 32) throw new ProtocolError('ERR_BAD_REPLY', `holder ${holder.id} sent a malformed hash list`)
        parts.push(p)
        got += p.length
      }
    },
    { connectTimeoutMs: dial.connectTimeoutMs, idleTimeoutMs: dial.idleTimeoutMs, transport: dial.transport }
  )
  if (remote) throw remote
  const m = meta as ReturnType<typeof parseHashMeta> | null
  if (!m || got !== m.pieces * 32) throw new ProtocolError('ERR_BAD_REPLY', `holder ${holder.id} sent an incomplete hash list`)
  const hashes = Buffer.concat(parts)
  if (!hashListMatches(hashes, m.size, cid)) throw new ProtocolError('ERR_BAD_HASH_LIST', `holder ${holder.id} sent a piece hash list that does not match the content id`)
  return { size: m.size, hashes }
}
