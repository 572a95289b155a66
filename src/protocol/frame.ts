/**
 * Frame codec: `[type: 4 ASCII][length: uint32 BE][payload]` (docs/PROTOCOL.md §1,
 * ../shared/reference/btpeer-wire.md "Frame"). Pure: no sockets, timers or logging.
 */
import { CHUNK_SIZE, HEADER_SIZE, TYPE_SIZE } from './constants.ts'
import { InvalidFrameError } from './errors.ts'

/**
 * Encode one frame.
 * @param type 4 ASCII characters, e.g. 'NAME'.
 * @param payload string (encoded as UTF-8) or bytes; at most 2^32-1 bytes.
 * @returns a Buffer of HEADER_SIZE + payload bytes.
 * @throws InvalidFrameError ERR_BAD_TYPE when type is not 4 printable ASCII characters.
 */
export function encodeFrame(type: string, payload: string | Uint8Array = ''): Buffer {
  checkType(type)
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
  const frame = Buffer.allocUnsafe(HEADER_SIZE + body.length)
  frame.write(type, 0, TYPE_SIZE, 'latin1')
  frame.writeUInt32BE(body.length, TYPE_SIZE)
  frame.set(body, HEADER_SIZE)
  return frame
}

/** Bytes on the wire for `n` payload bytes sent as REPL frames of `chunkSize` (PROTOCOL.md §4.7). */
export function chunkFramesLength(n: number, chunkSize = CHUNK_SIZE): number {
  return n + Math.ceil(n / chunkSize) * HEADER_SIZE
}

/**
 * Write the REPL frame headers for `n` payload bytes in frames of `chunkSize` (the last one
 * shorter) into `out`, leaving the payload slots between them to be filled.
 * @param out at least chunkFramesLength(n) bytes.
 * @returns the payload slots, views of `out` in order (e.g. for one readv straight from a file).
 */
export function layoutChunkFrames(out: Buffer, n: number, chunkSize = CHUNK_SIZE): Buffer[] {
  const slots: Buffer[] = []
  let o = 0
  for (let i = 0; i < n; i += chunkSize) {
    const len = Math.min(chunkSize, n - i)
    out.write('REPL', o, TYPE_SIZE, 'latin1')
    out.writeUInt32BE(len, o + TYPE_SIZE)
    slots.push(out.subarray(o + HEADER_SIZE, o + HEADER_SIZE + len))
    o += HEADER_SIZE + len
  }
  return slots
}

/**
 * Encode `data` as consecutive REPL frames of CHUNK_SIZE bytes (the last one shorter) into one
 * Buffer, so a sender makes one write per block instead of one per chunk (PROTOCOL.md §4.7).
 * @param data file bytes; any length.
 * @returns Buffer of data.length + 8 bytes per started chunk.
 */
export function encodeChunkFrames(data: Uint8Array, chunkSize = CHUNK_SIZE): Buffer {
  const out = Buffer.allocUnsafe(chunkFramesLength(data.length, chunkSize))
  let i = 0
  for (const slot of layoutChunkFrames(out, data.length, chunkSize)) {
    slot.set(data.subarray(i, i + slot.length))
    i += slot.length
  }
  return out
}

function checkType(type: string): void {
  if (type.length !== TYPE_SIZE || !/^[\x21-\x7e]{4}$/.test(type)) {
    throw new InvalidFrameError('ERR_BAD_TYPE', `frame type must be 4 printable ASCII characters, got ${JSON.stringify(type)}`)
  }
}

/**
 * What a decoder does with a frame type: reject it (`undefined`), buffer a body of at most
 * `maxLength` bytes and hand it over whole, or (`stream: true`) hand the body over in pieces
 * as it arrives, never buffering it.
 */
export interface FramePolicy {
  maxLength: number
  stream?: boolean
}

/** Callbacks of a FrameDecoder. Buffers passed to `data` are views valid only during the call. */
export interface FrameHandlers {
  /** A complete buffered frame. `type` is upper-cased, as the legacy peer does. */
  frame(type: string, payload: Buffer): void
  /** A streamed frame starts; `length` bytes of `data` calls follow, then `end`. */
  start?(type: string, length: number): void
  data?(type: string, data: Buffer): void
  end?(type: string): void
}

const enum State {
  Header,
  Body,
  Stream
}

/**
 * Incremental, push-based frame decoder with explicit states (ws `Receiver`, libp2p mplex).
 * The length is never trusted: it is checked against the type's policy **before** any of the
 * body is buffered.
 *
 * @throws from `push()`: InvalidFrameError with code ERR_BAD_TYPE (non-printable type bytes),
 *   ERR_UNKNOWN_TYPE (policy returned undefined), ERR_FRAME_TOO_LARGE (length over the type's
 *   maxLength); from `finish()`: ERR_TRUNCATED_FRAME when the input ended inside a frame.
 *   After a throw the decoder is unusable (the connection must be closed).
 */
export class FrameDecoder {
  private state = State.Header
  private readonly header = Buffer.alloc(HEADER_SIZE)
  private headerFill = 0
  private type = ''
  private remaining = 0
  private body: Buffer | null = null
  private bodyFill = 0
  private failed = false
  /** Frames completed so far. */
  frames = 0

  constructor(
    private readonly policy: (type: string) => FramePolicy | undefined,
    private readonly handlers: FrameHandlers
  ) {}

  /** Bytes still to come of the streamed frame body being read (0 outside a streamed body). */
  get streamLeft(): number {
    return this.state === State.Stream ? this.remaining : 0
  }

  /** Header bytes still to come (0 inside a body). */
  get headerLeft(): number {
    return this.state === State.Header ? HEADER_SIZE - this.headerFill : 0
  }

  /** True between frames (no partial header or body held). */
  get idle(): boolean {
    return this.state === State.Header && this.headerFill === 0
  }

  /** Feed bytes; calls handlers synchronously for every frame (or piece) completed. */
  push(chunk: Buffer): void {
    if (this.failed) throw new InvalidFrameError('ERR_DECODER_FAILED', 'decoder used after an error')
    try {
      this.consume(chunk)
    } catch (err) {
      this.failed = true
      throw err
    }
  }

  private consume(chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      if (this.state === State.Header) {
        const n = Math.min(HEADER_SIZE - this.headerFill, chunk.length - i)
        if (n === 1) this.header[this.headerFill] = chunk[i] as number
        else chunk.copy(this.header, this.headerFill, i, i + n)
        this.headerFill += n
        i += n
        if (this.headerFill === HEADER_SIZE) this.onHeader()
      } else if (this.state === State.Body) {
        const body = this.body as Buffer
        const n = Math.min(this.remaining, chunk.length - i)
        chunk.copy(body, this.bodyFill, i, i + n)
        this.bodyFill += n
        this.remaining -= n
        i += n
        if (this.remaining === 0) this.completeBuffered()
      } else {
        const n = Math.min(this.remaining, chunk.length - i)
        this.remaining -= n
        this.handlers.data?.(this.type, chunk.subarray(i, i + n))
        i += n
        if (this.remaining === 0) this.completeStream()
      }
    }
  }

  /** Type bytes of the previous frame and its parsed type: a stream of REPL frames parses once. */
  private lastTypeWord = -1
  private lastType = ''

  private onHeader(): void {
    this.headerFill = 0
    const word = this.header.readUInt32BE(0)
    let type: string
    if (word === this.lastTypeWord) {
      type = this.lastType
    } else {
      for (let k = 0; k < TYPE_SIZE; k++) {
        const c = this.header[k] as number
        if (c < 0x21 || c > 0x7e) {
          throw new InvalidFrameError('ERR_BAD_TYPE', `frame type has a non-printable byte 0x${c.toString(16).padStart(2, '0')}`)
        }
      }
      type = this.header.toString('latin1', 0, TYPE_SIZE).toUpperCase()
      this.lastTypeWord = word
      this.lastType = type
    }
    const length = this.header.readUInt32BE(TYPE_SIZE)
    const policy = this.policy(type)
    if (!policy) throw new InvalidFrameError('ERR_UNKNOWN_TYPE', `unknown or unexpected message type ${type}`)
    if (length > policy.maxLength) {
      throw new InvalidFrameError('ERR_FRAME_TOO_LARGE', `${type} frame of ${length} bytes exceeds the limit of ${policy.maxLength} bytes`)
    }
    this.type = type
    this.remaining = length
    if (policy.stream) {
      this.state = State.Stream
      this.handlers.start?.(type, length)
      if (length === 0) this.completeStream()
    } else {
      this.state = State.Body
      this.body = Buffer.allocUnsafe(length)
      this.bodyFill = 0
      if (length === 0) this.completeBuffered()
    }
  }

  private completeBuffered(): void {
    const body = this.body as Buffer
    this.body = null
    this.state = State.Header
    this.frames++
    this.handlers.frame(this.type, body)
  }

  private completeStream(): void {
    this.state = State.Header
    this.frames++
    this.handlers.end?.(this.type)
  }

  /**
   * Declare the end of input.
   * @throws InvalidFrameError ERR_TRUNCATED_FRAME when a header or body was cut short.
   */
  finish(): void {
    if (this.failed) return
    if (!this.idle) {
      this.failed = true
      const where = this.state === State.Header ? `after ${this.headerFill} of ${HEADER_SIZE} header bytes` : `${this.remaining} bytes short of the ${this.type} body`
      throw new InvalidFrameError('ERR_TRUNCATED_FRAME', `connection closed inside a frame, ${where}`)
    }
  }
}
