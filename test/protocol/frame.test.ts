/**
 * Frame codec (docs/PROTOCOL.md §1 Frame; ../shared/reference/btpeer-wire.md "Frame"):
 * golden bytes, round trip, every split of the input, limits checked before the body is
 * buffered, and a property that random bytes only ever produce the decoder's own errors.
 */
import test from 'ava'
import fc from 'fast-check'
import { CHUNK_SIZE, HEADER_SIZE, MSG } from '../../src/protocol/constants.ts'
import { REQUEST_LIMITS, requestLimit } from '../../src/protocol/table.ts'
import { InvalidFrameError } from '../../src/protocol/errors.ts'
import { encodeChunkFrames, encodeFrame, FrameDecoder, type FramePolicy } from '../../src/protocol/frame.ts'

/** Every code FrameDecoder and encodeFrame document (frame.ts). */
const DECODER_CODES = ['ERR_BAD_TYPE', 'ERR_UNKNOWN_TYPE', 'ERR_FRAME_TOO_LARGE', 'ERR_TRUNCATED_FRAME', 'ERR_DECODER_FAILED']

interface Decoded {
  type: string
  payload: Buffer
}

/** The server's policy: request types with their limits (server.ts), plus the two reply types. */
function requestPolicy(type: string): FramePolicy | undefined {
  if (type === MSG.REPL || type === MSG.ERRO) return { maxLength: 65536 }
  const max = requestLimit(type)
  return max === undefined ? undefined : { maxLength: max }
}

/** A buffering decoder that records frames (payloads copied) and the types its policy saw. */
function collector(policy: (type: string) => FramePolicy | undefined = requestPolicy): { decoder: FrameDecoder; frames: Decoded[]; asked: string[] } {
  const frames: Decoded[] = []
  const asked: string[] = []
  const decoder = new FrameDecoder(
    (type) => {
      asked.push(type)
      return policy(type)
    },
    { frame: (type, payload) => frames.push({ type, payload: Buffer.from(payload) }) }
  )
  return { decoder, frames, asked }
}

/** Decode `bytes` fed as the given pieces, then finish(). */
function decodeAll(pieces: Buffer[], policy?: (type: string) => FramePolicy | undefined): Decoded[] {
  const c = collector(policy)
  for (const p of pieces) c.decoder.push(p)
  c.decoder.finish()
  return c.frames
}

function hex(frames: Decoded[]): string[] {
  return frames.map((f) => `${f.type}:${f.payload.toString('hex')}`)
}

function throwsFrame(t: import('ava').ExecutionContext, fn: () => void, code: string): void {
  const err = t.throws(fn, { instanceOf: InvalidFrameError })
  t.is(err?.code, code)
}

// ------------------------------------------------------------------------------ golden bytes

test('golden: NAME with an empty payload is 4e414d4500000000', (t) => {
  t.is(encodeFrame('NAME').toString('hex'), '4e414d4500000000')
  t.is(encodeFrame('NAME', '').toString('hex'), '4e414d4500000000')
  t.is(encodeFrame('NAME', Buffer.alloc(0)).toString('hex'), '4e414d4500000000')
})

test('golden: QUER "127.0.0.1:9400 clip 4" byte by byte', (t) => {
  const expected = Buffer.from(
    [
      '51 55 45 52', // "QUER"
      '00 00 00 15', // length 21, big-endian
      '31 32 37 2e 30 2e 30 2e 31', // "127.0.0.1"
      '3a 39 34 30 30', // ":9400"
      '20 63 6c 69 70', // " clip"
      '20 34' // " 4"
    ]
      .join(' ')
      .replace(/ /g, ''),
    'hex'
  )
  const frame = encodeFrame('QUER', '127.0.0.1:9400 clip 4')
  t.is(frame.length, HEADER_SIZE + 21)
  t.is(frame.toString('hex'), expected.toString('hex'))
  t.deepEqual(hex(decodeAll([expected])), ['QUER:' + Buffer.from('127.0.0.1:9400 clip 4').toString('hex')])
})

test('golden: the length is a 32-bit big-endian count of payload bytes (UTF-8, not characters)', (t) => {
  const f = encodeFrame('REPL', 'é') // two UTF-8 bytes
  t.is(f.toString('hex'), '5245504c' + '00000002' + 'c3a9')
  const big = encodeFrame('REPL', Buffer.alloc(0x010203))
  t.is(big.subarray(0, 8).toString('hex'), '5245504c00010203')
})

test('encodeFrame rejects a type that is not 4 printable ASCII characters (ERR_BAD_TYPE)', (t) => {
  for (const bad of ['NAM', 'NAMES', '', 'NA E', 'NA\x00E', 'NA\x7fE', 'NAMÉ']) {
    throwsFrame(t, () => encodeFrame(bad), 'ERR_BAD_TYPE')
  }
})

// ------------------------------------------------------------------------------ round trip

const SAMPLE: Array<[string, string | Buffer]> = [
  ['NAME', ''],
  ['QUER', '127.0.0.1:9400 clip 4'],
  ['JOIN', '127.0.0.1:9401 127.0.0.1 9401'],
  ['REPL', Buffer.from([0, 1, 2, 255, 254, 0x0a, 0x0d])],
  ['ERRO', 'File not found'],
  ['LIST', ''],
  ['FGET', 'Ünïcode clip 1.mp4']
]
const SAMPLE_BYTES = Buffer.concat(SAMPLE.map(([type, p]) => encodeFrame(type, p)))
const SAMPLE_EXPECTED = SAMPLE.map(([type, p]) => `${type}:${Buffer.from(p).toString('hex')}`)

test('round trip: encoded frames decode to the same types and payloads', (t) => {
  t.deepEqual(hex(decodeAll([SAMPLE_BYTES])), SAMPLE_EXPECTED)
})

test('round trip: one byte at a time', (t) => {
  const pieces = [...SAMPLE_BYTES].map((b) => Buffer.from([b]))
  t.deepEqual(hex(decodeAll(pieces)), SAMPLE_EXPECTED)
})

test('the same input split at every byte position yields the same frames', (t) => {
  for (let i = 0; i <= SAMPLE_BYTES.length; i++) {
    const got = hex(decodeAll([SAMPLE_BYTES.subarray(0, i), SAMPLE_BYTES.subarray(i)]))
    if (JSON.stringify(got) !== JSON.stringify(SAMPLE_EXPECTED)) return t.fail(`split at ${i} decoded ${JSON.stringify(got)}`)
  }
  t.pass()
})

test('empty pushes are harmless and `idle` is true only between frames', (t) => {
  const c = collector()
  c.decoder.push(Buffer.alloc(0))
  t.true(c.decoder.idle)
  const f = encodeFrame('ERRO', 'x')
  c.decoder.push(f.subarray(0, 3))
  t.false(c.decoder.idle)
  c.decoder.push(f.subarray(3, 8))
  t.false(c.decoder.idle)
  c.decoder.push(f.subarray(8))
  t.true(c.decoder.idle)
  t.is(c.decoder.frames, 1)
  t.notThrows(() => c.decoder.finish())
})

test('a lower-case type is upper-cased before the policy and the handler see it (legacy peer does so)', (t) => {
  const c = collector()
  c.decoder.push(encodeFrame('name'))
  c.decoder.push(encodeFrame('qUeR', 'x 1'))
  t.deepEqual(c.asked, ['NAME', 'QUER'])
  t.deepEqual(
    c.frames.map((f) => f.type),
    ['NAME', 'QUER']
  )
})

// ------------------------------------------------------------------------------ bad input

test('oversize: the 8-byte header of a frame announcing 4 GiB throws ERR_FRAME_TOO_LARGE at once', (t) => {
  const header = Buffer.from('4e414d45ffffffff', 'hex') // NAME, length 2^32-1
  const c = collector()
  // The body is never sent: the throw must come from the header alone (nothing buffered first).
  throwsFrame(t, () => c.decoder.push(header), 'ERR_FRAME_TOO_LARGE')
  t.is(c.frames.length, 0)
})

test('oversize: one byte over the type limit is rejected, the limit itself is accepted', (t) => {
  const limit = REQUEST_LIMITS.JOIN
  t.deepEqual(decodeAll([encodeFrame('JOIN', Buffer.alloc(limit, 0x41))]).length, 1)
  const header = Buffer.alloc(8)
  header.write('JOIN', 0, 'latin1')
  header.writeUInt32BE(limit + 1, 4)
  throwsFrame(t, () => collector().decoder.push(header), 'ERR_FRAME_TOO_LARGE')
})

test('a decoder that threw is unusable: the next push throws ERR_DECODER_FAILED', (t) => {
  const c = collector()
  throwsFrame(t, () => c.decoder.push(encodeFrame('ABCD')), 'ERR_UNKNOWN_TYPE')
  throwsFrame(t, () => c.decoder.push(encodeFrame('NAME')), 'ERR_DECODER_FAILED')
  t.notThrows(() => c.decoder.finish()) // no second error at the end
})

test('unknown type: a type the policy does not know → ERR_UNKNOWN_TYPE, from the header alone', (t) => {
  for (const type of ['ABCD', 'XXXX', 'quux']) throwsFrame(t, () => collector().decoder.push(encodeFrame(type, 'x').subarray(0, HEADER_SIZE)), 'ERR_UNKNOWN_TYPE')
})

test('non-printable type byte → ERR_BAD_TYPE, for each of the 4 positions', (t) => {
  for (let pos = 0; pos < 4; pos++) {
    for (const bad of [0x00, 0x20, 0x7f, 0x80, 0xff]) {
      const f = encodeFrame('NAME')
      f[pos] = bad
      throwsFrame(t, () => collector().decoder.push(f), 'ERR_BAD_TYPE')
    }
  }
})

test('truncated header: finish() after 1..7 header bytes → ERR_TRUNCATED_FRAME', (t) => {
  const f = encodeFrame('NAME')
  for (let n = 1; n < HEADER_SIZE; n++) {
    const c = collector()
    c.decoder.push(f.subarray(0, n))
    throwsFrame(t, () => c.decoder.finish(), 'ERR_TRUNCATED_FRAME')
  }
})

test('truncated body: finish() inside a buffered body → ERR_TRUNCATED_FRAME', (t) => {
  const f = encodeFrame('QUER', '127.0.0.1:9400 clip 4')
  for (const n of [HEADER_SIZE, HEADER_SIZE + 1, f.length - 1]) {
    const c = collector()
    c.decoder.push(f.subarray(0, n))
    throwsFrame(t, () => c.decoder.finish(), 'ERR_TRUNCATED_FRAME')
    t.is(c.frames.length, 0)
  }
})

test('truncated body: finish() inside a streamed body → ERR_TRUNCATED_FRAME', (t) => {
  const d = new FrameDecoder(() => ({ maxLength: 1 << 20, stream: true }), { frame: () => t.fail('no buffered frame expected') })
  d.push(encodeFrame('REPL', Buffer.alloc(100)).subarray(0, 50))
  throwsFrame(t, () => d.finish(), 'ERR_TRUNCATED_FRAME')
})

// ------------------------------------------------------------------------------ streaming

test('streaming policy: start/data/end, data totalling the length, no piece larger than the chunk pushed', (t) => {
  const body = Buffer.alloc(10_000)
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251
  const input = Buffer.concat([encodeFrame('REPL', body), encodeFrame('REPL', ''), encodeFrame('ERRO', 'bye')])
  for (const step of [1, 7, 8, 9, 100, 2048, 4096, input.length]) {
    const events: string[] = []
    const pieces: Buffer[] = []
    let buffered: Decoded[] = []
    let pushed = 0
    const d = new FrameDecoder((type) => (type === 'REPL' ? { maxLength: 1 << 20, stream: true } : { maxLength: 100 }), {
      frame: (type, payload) => buffered.push({ type, payload: Buffer.from(payload) }),
      start: (type, length) => events.push(`start ${type} ${length}`),
      data: (type, data) => {
        t.is(type, 'REPL')
        if (data.length > pushed) t.fail(`a data piece of ${data.length} bytes from a push of ${pushed}`)
        pieces.push(Buffer.from(data)) // the view is only valid during the call
      },
      end: (type) => events.push(`end ${type}`)
    })
    for (let i = 0; i < input.length; i += step) {
      const chunk = input.subarray(i, i + step)
      pushed = chunk.length
      d.push(chunk)
    }
    d.finish()
    t.deepEqual(events, ['start REPL 10000', 'end REPL', 'start REPL 0', 'end REPL'], `step ${step}`)
    t.true(Buffer.concat(pieces).equals(body), `step ${step}`)
    t.true(
      pieces.every((p) => p.length > 0),
      `step ${step}: no empty data pieces`
    )
    t.deepEqual(hex(buffered), ['ERRO:' + Buffer.from('bye').toString('hex')], `step ${step}`)
    t.is(d.frames, 3)
    buffered = []
  }
})

test('streaming policy: the length limit still applies before any data', (t) => {
  let started = false
  const d = new FrameDecoder(() => ({ maxLength: 1000, stream: true }), { frame: () => {}, start: () => (started = true) })
  const header = Buffer.from('5245504c000003e9', 'hex') // REPL, 1001 bytes
  throwsFrame(t, () => d.push(header), 'ERR_FRAME_TOO_LARGE')
  t.false(started)
})

// ------------------------------------------------------------------------------ chunk frames

/** Split the output of encodeChunkFrames into [type, length] pairs, checking payloads. */
function chunkLayout(buf: Buffer, data: Buffer): Array<[string, number]> {
  const out: Array<[string, number]> = []
  let o = 0
  let d = 0
  while (o < buf.length) {
    const type = buf.toString('latin1', o, o + 4)
    const n = buf.readUInt32BE(o + 4)
    if (!buf.subarray(o + 8, o + 8 + n).equals(data.subarray(d, d + n))) throw new Error(`payload mismatch at frame ${out.length}`)
    out.push([type, n])
    o += 8 + n
    d += n
  }
  return out
}

test('encodeChunkFrames: 5000 bytes → REPL frames of 2048, 2048, 904', (t) => {
  const data = Buffer.alloc(5000, 0x5a)
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff
  const out = encodeChunkFrames(data)
  t.is(CHUNK_SIZE, 2048)
  t.is(out.length, 5000 + 3 * HEADER_SIZE)
  t.deepEqual(chunkLayout(out, data), [
    ['REPL', 2048],
    ['REPL', 2048],
    ['REPL', 904]
  ])
  t.true(Buffer.concat(decodeAll([out]).map((f) => f.payload)).equals(data))
})

test('encodeChunkFrames: exact multiples, one byte, empty input', (t) => {
  t.deepEqual(chunkLayout(encodeChunkFrames(Buffer.alloc(4096)), Buffer.alloc(4096)), [
    ['REPL', 2048],
    ['REPL', 2048]
  ])
  t.deepEqual(chunkLayout(encodeChunkFrames(Buffer.alloc(1)), Buffer.alloc(1)), [['REPL', 1]])
  t.is(encodeChunkFrames(Buffer.alloc(0)).length, 0)
  t.deepEqual(chunkLayout(encodeChunkFrames(Buffer.alloc(2049)), Buffer.alloc(2049)), [
    ['REPL', 2048],
    ['REPL', 1]
  ])
})

test('encodeChunkFrames: every frame but the last is exactly CHUNK_SIZE (property)', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20_000 }), (n) => {
      const data = Buffer.alloc(n, 1)
      const layout = chunkLayout(encodeChunkFrames(data), data)
      const sizes = layout.map(([, len]) => len)
      return (
        layout.every(([type]) => type === 'REPL') &&
        sizes.slice(0, -1).every((s) => s === CHUNK_SIZE) &&
        sizes.reduce((a, b) => a + b, 0) === n &&
        sizes.length === Math.ceil(n / CHUNK_SIZE) &&
        (n === 0 || ((sizes.at(-1) as number) > 0 && (sizes.at(-1) as number) <= CHUNK_SIZE))
      )
    })
  )
  t.pass()
})

// ------------------------------------------------------------------------------ properties

/** Cut `bytes` at the given positions (any order, duplicates allowed). */
function splitAt(bytes: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(Buffer.from(bytes.subarray(prev, p)))
    prev = p
  }
  out.push(Buffer.from(bytes.subarray(prev)))
  return out
}

/** Inputs that reach past the header often: valid frames, mangled frames, and plain noise. */
const noisyInput = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc
    .array(
      fc.oneof(
        fc.tuple(fc.constantFrom('NAME', 'QUER', 'JOIN', 'name', 'FGET', 'PING', 'ABCD', 'REPL', 'HITS'), fc.uint8Array({ maxLength: 40 })).map(([type, p]) => new Uint8Array(encodeFrame(type, p))),
        fc.uint8Array({ maxLength: 12 })
      ),
      { maxLength: 6 }
    )
    .map((parts) => new Uint8Array(Buffer.concat(parts)))
)

test('property: random bytes in random splits give only InvalidFrameError with a decoder code, or valid frames', (t) => {
  fc.assert(
    fc.property(noisyInput, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (bytes, cuts, stream) => {
      const frames: Decoded[] = []
      let streamed = 0
      let announced = 0
      const d = new FrameDecoder(
        (type) => {
          const p = requestPolicy(type)
          return p && stream && type === 'REPL' ? { ...p, stream: true } : p
        },
        {
          frame: (type, payload) => frames.push({ type, payload: Buffer.from(payload) }),
          start: (_type, length) => (announced += length),
          data: (_type, data) => (streamed += data.length)
        }
      )
      try {
        for (const piece of splitAt(bytes, cuts)) d.push(piece)
        d.finish()
        // No error: everything decoded must be a whole, allowed frame.
        if (streamed !== announced) return false
      } catch (err) {
        if (!(err instanceof InvalidFrameError)) throw err
        if (!DECODER_CODES.includes(err.code)) throw new Error(`unexpected code ${err.code}`, { cause: err })
      }
      return frames.every((f) => {
        const p = requestPolicy(f.type)
        return p !== undefined && f.payload.length <= p.maxLength && f.type === f.type.toUpperCase()
      })
    }),
    { numRuns: 2000 }
  )
  t.pass()
})

test('property: any split of valid frames decodes to the same frames', (t) => {
  const frameArb = fc.tuple(fc.constantFrom('NAME', 'LIST', 'QUER', 'JOIN', 'REPL', 'ERRO', 'RESP'), fc.uint8Array({ maxLength: 300 }))
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
      const bytes = Buffer.concat(frames.map(([type, p]) => encodeFrame(type, p)))
      const got = decodeAll(splitAt(bytes, cuts))
      return JSON.stringify(hex(got)) === JSON.stringify(frames.map(([type, p]) => `${type}:${Buffer.from(p).toString('hex')}`))
    }),
    { numRuns: 500 }
  )
  t.pass()
})
