import test from 'ava'
import { createHash } from 'node:crypto'
import { contentIdOf, hashListMatches, merkleRoot } from '../../src/protocol/merkle.ts'

const sha = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}
const leaf = (i: number): Buffer => sha(Buffer.from([i]))
const Z = Buffer.alloc(32)

test('merkle root: no leaf is 32 zero bytes, one leaf is its own root', (t) => {
  t.deepEqual(merkleRoot(Buffer.alloc(0)), Z)
  t.deepEqual(merkleRoot(leaf(1)), leaf(1))
})

test('merkle root: leaves padded with zero hashes to a power of two (BEP 52), padding subtrees hashed per level', (t) => {
  const two = sha(leaf(1), leaf(2))
  t.deepEqual(merkleRoot(Buffer.concat([leaf(1), leaf(2)])), two)
  // 3 leaves: [l1 l2 l3 0]
  t.deepEqual(merkleRoot(Buffer.concat([leaf(1), leaf(2), leaf(3)])), sha(two, sha(leaf(3), Z)))
  // 5 leaves: [l1..l5 0 0 0]: the right half is H(H(l5,0), H(0,0))
  const five = Buffer.concat([1, 2, 3, 4, 5].map(leaf))
  const left = sha(two, sha(leaf(3), leaf(4)))
  const right = sha(sha(leaf(5), Z), sha(Z, Z))
  t.deepEqual(merkleRoot(five), sha(left, right))
  t.throws(() => merkleRoot(Buffer.alloc(33)), { instanceOf: RangeError })
})

test('content id: SHA-256(root ‖ uint64be(size)); golden value; the size is bound', (t) => {
  t.is(contentIdOf(Z, 0), sha(Z, Buffer.alloc(8)).toString('hex'))
  t.is(contentIdOf(Z, 0), '2c34ce1df23b838c5abf2a7f6437cca3d3067ed509ff25f11df6b11b582b51eb')
  const l = leaf(7)
  t.not(contentIdOf(l, 100), contentIdOf(l, 101))
})

test('hash list check: count and root must give the content id', (t) => {
  const list = Buffer.concat([leaf(1), leaf(2), leaf(3)])
  const size = 2 * 65536 + 10
  const cid = contentIdOf(merkleRoot(list), size)
  t.true(hashListMatches(list, size, cid))
  t.false(hashListMatches(list, size + 65536, cid), 'another size')
  t.false(hashListMatches(list.subarray(0, 64), size, cid), 'a hash missing')
  const forged = Buffer.from(list)
  forged[40] = (forged[40] as number) ^ 1
  t.false(hashListMatches(forged, size, cid), 'one hash changed')
})

test('content id of a real clip, computed independently (Python hashlib: full padding, no per-level shortcut)', async (t) => {
  const { hashFile } = await import('../../src/node/content-ids.ts')
  const { cid } = await hashFile('/usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-19-53.mp4')
  t.is(cid, '8ec2d14397577bb257bc3ff03d4714ccf052ff318de734eece2fb5037891bd89')
})
