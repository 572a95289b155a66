/**
 * Content ids bound to a Merkle tree over the pieces (docs/PROTOCOL.md §4.5, §4.8), in the style
 * of BitTorrent v2 (BEP 52, "pieces root"): SHA-256, one leaf per PIECE_SIZE piece (the last one
 * shorter), the leaves padded with zero hashes (32 zero bytes) to a power of two, each inner
 * node the SHA-256 of its two children concatenated. The content id commits to the root and the
 * file size: `cid = SHA-256(root ‖ uint64be(size))`, so a holder's piece hash list is checked
 * against the content id alone, and each piece against the list. Pure functions.
 */
import { createHash } from 'node:crypto'
import { PIECE_SIZE } from './constants.ts'

const ZERO = Buffer.alloc(32)

/** SHA-256 of `a ‖ b` (an inner node). */
function node(a: Uint8Array, b: Uint8Array): Buffer {
  return createHash('sha256').update(a).update(b).digest()
}

/**
 * Merkle root of `leaves` (32-byte hashes concatenated, in piece order) padded with zero leaves
 * to a power of two; a padding-only subtree is its zero hash, computed once per level. No leaf
 * gives 32 zero bytes; one leaf is its own root.
 * @throws RangeError when `leaves` is not a multiple of 32 bytes (a local bug).
 */
export function merkleRoot(leaves: Uint8Array): Buffer {
  if (leaves.length % 32 !== 0) throw new RangeError(`a leaf layer of ${leaves.length} bytes is not whole 32-byte hashes`)
  let n = leaves.length / 32
  if (n === 0) return Buffer.from(ZERO)
  let layer = Buffer.from(leaves.buffer, leaves.byteOffset, leaves.length)
  let zero: Buffer = ZERO
  while (n > 1) {
    const up = Buffer.allocUnsafe(Math.ceil(n / 2) * 32)
    for (let i = 0; i < n; i += 2) {
      const left = layer.subarray(i * 32, i * 32 + 32)
      const right = i + 1 < n ? layer.subarray(i * 32 + 32, i * 32 + 64) : zero
      node(left, right).copy(up, (i / 2) * 32)
    }
    zero = node(zero, zero)
    layer = up
    n = up.length / 32
  }
  return Buffer.from(layer)
}

/** The content id of a file of `size` bytes whose piece tree has `root`: SHA-256(root ‖ uint64be(size)), lowercase hex. */
export function contentIdOf(root: Uint8Array, size: number): string {
  const len = Buffer.allocUnsafe(8)
  len.writeBigUInt64BE(BigInt(size))
  return createHash('sha256').update(root).update(len).digest('hex')
}

/** Pieces of a file of `size` bytes (PIECE_SIZE each, the last shorter; 0 for an empty file). */
export function pieceCountOf(size: number): number {
  return Math.ceil(size / PIECE_SIZE)
}

/** The content id of bytes held in memory (tests, small files): one pass, each byte hashed once. */
export function contentIdOfBytes(data: Uint8Array): string {
  const leaves = Buffer.allocUnsafe(pieceCountOf(data.length) * 32)
  for (let i = 0; i * PIECE_SIZE < data.length; i++) {
    createHash('sha256')
      .update(data.subarray(i * PIECE_SIZE, (i + 1) * PIECE_SIZE))
      .digest()
      .copy(leaves, i * 32)
  }
  return contentIdOf(merkleRoot(leaves), data.length)
}

/**
 * True when `hashes` (32 bytes a piece) is the piece hash list of content id `cid` for a file of
 * `size` bytes: the right number of hashes and a root that gives `cid`.
 */
export function hashListMatches(hashes: Uint8Array, size: number, cid: string): boolean {
  return hashes.length === pieceCountOf(size) * 32 && contentIdOf(merkleRoot(hashes), size) === cid
}
