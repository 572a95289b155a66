/**
 * The MP4 top-level box walk that finds a trailing `moov` (ISO/IEC 14496-12 §4.2), on a real
 * MP4 whose index comes after its media data and on synthetic boxes.
 */
import { existsSync, openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import test from 'ava'
import fc from 'fast-check'
import { mp4MoovOffset, readBoxHeader } from '../../src/node/mp4.ts'

/** One box: 32-bit size, type, body of `body` zero bytes (or a 64-bit size when `large`). */
function box(type: string, body: number, large = false): Buffer {
  const head = large ? 16 : 8
  const b = Buffer.alloc(head + body)
  if (large) {
    b.writeUInt32BE(1, 0)
    b.writeBigUInt64BE(BigInt(head + body), 8)
  } else {
    b.writeUInt32BE(head + body, 0)
  }
  b.write(type, 4, 'latin1')
  return b
}

const MEDIA = '/usr/share/lebiniou/vue/media'
const realMp4 = existsSync(MEDIA) ? readdirSync(MEDIA).find((f) => f.endsWith('.mp4')) : undefined

;(realMp4 ? test : test.skip)('mp4MoovOffset: a real MP4 with moov after mdat points at the moov box', (t) => {
  const file = path.join(MEDIA, realMp4 as string)
  const size = statSync(file).size
  const head = Buffer.alloc(64 * 1024)
  const fd = openSync(file, 'r')
  try {
    const n = readSync(fd, head, 0, head.length, 0)
    const moov = mp4MoovOffset(head.subarray(0, n), size)
    t.not(moov, null)
    const at = Buffer.alloc(8)
    readSync(fd, at, 0, 8, moov as number)
    t.is(readBoxHeader(at, 0)?.type, 'moov')
  } finally {
    closeSync(fd)
  }
})

test('mp4MoovOffset: ftyp, free, mdat then moov gives the end of mdat', (t) => {
  const head = Buffer.concat([box('ftyp', 24), box('free', 0), box('mdat', 100)])
  t.is(mp4MoovOffset(head, head.length + 500), head.length)
  // A 64-bit mdat size (size field 1) is followed too.
  const large = Buffer.concat([box('ftyp', 24), box('mdat', 100, true)])
  t.is(mp4MoovOffset(large, large.length + 500), large.length)
})

test('mp4MoovOffset: null for faststart, non-MP4, mdat to the end, malformed or truncated boxes', (t) => {
  t.is(mp4MoovOffset(Buffer.concat([box('ftyp', 24), box('moov', 50), box('mdat', 100)]), 10_000), null)
  t.is(mp4MoovOffset(Buffer.concat([box('free', 24), box('mdat', 100)]), 10_000), null)
  const tail = Buffer.concat([box('ftyp', 24), box('mdat', 100)])
  t.is(mp4MoovOffset(tail, tail.length), null) // nothing after mdat
  const zero = Buffer.concat([box('ftyp', 24), box('mdat', 0)])
  zero.writeUInt32BE(0, 32) // size 0: the box runs to the end of the file
  t.is(mp4MoovOffset(zero, 10_000), null)
  const tiny = Buffer.concat([box('ftyp', 24), box('free', 0)])
  tiny.writeUInt32BE(4, 32) // smaller than its own header
  t.is(mp4MoovOffset(tiny, 10_000), null)
  t.is(mp4MoovOffset(Buffer.concat([box('ftyp', 24), box('mdat', 100, true)]).subarray(0, 40), 10_000), null)
  t.is(mp4MoovOffset(Buffer.alloc(0), 10_000), null)
})

test('mp4MoovOffset: random bytes never throw and never point past the file', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 1 << 20 }), (bytes, size) => {
      const r = mp4MoovOffset(Buffer.from(bytes), size)
      return r === null || (r > 0 && r < size)
    })
  )
  t.pass()
})
