/**
 * Issue #11 item 5: every piece is verifiable against the content id (a Merkle tree over the
 * pieces, PROTOCOL.md §4.8), so a holder that lies is the one blamed, never the honest one; and
 * the #11 low item: a resume checks the pieces on disk again instead of discarding the partial.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { hashFile, type LibraryEntry } from '../../src/node/library.ts'
import { PIECE_SIZE } from '../../src/protocol/constants.ts'
import { BIG_CLIP, contentIdFile, shareWith, startNode, VIDEO_DIR } from '../helpers/nodes.ts'

/** A share with a copy of BIG_CLIP whose every piece has one flipped byte, and its piece hash list. */
async function corruptCopy(t: import('ava').ExecutionContext): Promise<{ share: string; pieces: Buffer }> {
  const share = await shareWith(t, [BIG_CLIP])
  const file = path.join(share, BIG_CLIP)
  const bytes = await fs.readFile(file)
  for (let i = 100; i < bytes.length; i += PIECE_SIZE) bytes[i] = (bytes[i] as number) ^ 0x5a
  await fs.writeFile(file, bytes)
  return { share, pieces: (await hashFile(file)).pieces }
}

test('a holder whose hash list matches its corrupt data is dropped at HASH; the file completes verified from the honest holder', async (t) => {
  const honest = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 2_000_000 })
  const cid = honest.library.get(BIG_CLIP)?.cid as string
  t.is(cid, await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP)))
  // The liar: a real node patched to serve its corrupt copy, and the hash list of that copy,
  // under the honest content id (what a malicious holder would send).
  const { share, pieces } = await corruptCopy(t)
  const liar = await startNode(t, { shares: [share] })
  const real = liar.library.get(BIG_CLIP) as LibraryEntry
  const forged: LibraryEntry = { ...real, cid }
  liar.library.getByCid = (c: string) => (c === cid ? forged : undefined)
  liar.library.pieceHashes = async (c: string) => (c === cid ? pieces : null)

  const viewer = await startNode(t)
  // The liar is the first holder: its HASH answer is the one asked first.
  const d = viewer.fetch({ name: BIG_CLIP, contentId: cid, holder: liar.id, size: real.size })
  d.addSource(honest)
  const droppedFor = new Map<string, string>()
  d.on('source-dropped', (id: string, why: string) => droppedFor.set(id, why))
  const badLists: string[] = []
  d.on('bad-hash-list', (id: string) => badLists.push(id))
  const badPieces: string[] = []
  d.on('bad-piece', (id: string) => badPieces.push(id))
  const res = await d.start()
  t.is(res.sha256, cid)
  t.is(await contentIdFile(res.path), cid)
  t.deepEqual(badLists, [liar.id], 'the liar was caught by its hash list')
  t.regex(droppedFor.get(liar.id) ?? '', /does not match the content id/)
  t.false(droppedFor.has(honest.id), `the honest holder was not dropped (${droppedFor.get(honest.id)})`)
  t.deepEqual(badPieces, [])
  t.true(d.swarm!.sources.get(liar.id)!.received === 0, 'no byte was taken from the liar')
})

test('a holder that sends the right hash list but corrupt pieces is blamed for its pieces only', async (t) => {
  const honest = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 2_000_000 })
  const cid = honest.library.get(BIG_CLIP)?.cid as string
  const { share } = await corruptCopy(t)
  const liar = await startNode(t, { shares: [share] })
  const real = liar.library.get(BIG_CLIP) as LibraryEntry
  const forged: LibraryEntry = { ...real, cid }
  liar.library.getByCid = (c: string) => (c === cid ? forged : undefined)
  // It sends the honest list (copied from the honest holder): only its data lies.
  liar.library.pieceHashes = (c: string) => honest.library.pieceHashes(c)
  const viewer = await startNode(t)
  const d = viewer.fetch({ name: BIG_CLIP, contentId: cid, holder: liar.id, size: real.size })
  d.addSource(honest)
  const droppedFor = new Map<string, string>()
  d.on('source-dropped', (id: string, why: string) => droppedFor.set(id, why))
  const res = await d.start()
  t.is(res.sha256, cid)
  t.regex(droppedFor.get(liar.id) ?? '', /corrupt piece/)
  t.false(droppedFor.has(honest.id))
})

test('a resume checks the pieces on disk again: one flipped byte costs one piece, not the partial file', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 1_000_000 })
  const entry = seeder.library.get(BIG_CLIP) as LibraryEntry
  const viewer = await startNode(t)
  const target = { name: BIG_CLIP, contentId: entry.cid as string, holder: seeder.id, size: entry.size }
  const first = viewer.fetch(target)
  const running = first.start()
  await new Promise<void>((resolve) => first.on('progress', (p: { received: number }) => p.received >= 2_000_000 && resolve()))
  first.cancel()
  await t.throwsAsync(running)
  await first.close()
  // One byte of a piece already on disk changes while the download is stopped.
  const fh = await fs.open(first.partPath, 'r+')
  await fh.write(Buffer.from([0x00, 0xff, 0x00]), 0, 3, PIECE_SIZE * 5 + 17)
  await fh.close()

  const second = viewer.fetch(target)
  let rechecked: { pieces: number; bad: number } | null = null
  let kept = 0
  second.on('rechecked', (r: { pieces: number; bad: number }) => {
    rechecked = r
    kept = second.received
  })
  const res = await second.start()
  t.is(res.sha256, entry.cid as string)
  t.like(rechecked, { bad: 1 })
  t.true(rechecked!.pieces * PIECE_SIZE >= 2_000_000 - PIECE_SIZE, `pieces kept from the first run: ${rechecked!.pieces}`)
  // Every checked piece but the bad one was kept (one of them may be the short last piece: an MP4's moov is fetched early).
  t.true(kept > (rechecked!.pieces - 2) * PIECE_SIZE && kept <= (rechecked!.pieces - 1) * PIECE_SIZE, `kept ${kept} B of ${rechecked!.pieces} pieces`)
  t.is(second.receivedThisRun, entry.size - kept, 'only the missing pieces and the bad one were fetched')
  t.is(await contentIdFile(res.path), entry.cid as string)
})
