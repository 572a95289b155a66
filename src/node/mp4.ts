/**
 * The few MP4 box rules a download needs (ISO/IEC 14496-12 §4.2): top-level boxes are a 32-bit
 * big-endian size, a 4-character type, and a 64-bit size after the type when the 32-bit size is 1.
 * Pure functions over bytes already read; nothing here touches a file.
 */

/** One top-level box header. `size` counts the whole box (header included), bytes; 0 = to end of file. */
export interface Mp4BoxHeader {
  type: string
  size: number
}

/**
 * The box header at `off` in `buf`.
 * @returns null when the header (8 bytes, 16 with a 64-bit size) runs past `buf`.
 */
export function readBoxHeader(buf: Buffer, off: number): Mp4BoxHeader | null {
  if (off + 8 > buf.length) return null
  let size = buf.readUInt32BE(off)
  const type = buf.toString('latin1', off + 4, off + 8)
  if (size === 1) {
    if (off + 16 > buf.length) return null
    size = Number(buf.readBigUInt64BE(off + 8))
  }
  return { type, size }
}

/**
 * Where an MP4's `moov` box starts when it comes after the media data (`mdat`), from the file's
 * first bytes (`first`) and its size in bytes; null when moov comes first (faststart), the boxes
 * are not MP4 (no leading `ftyp`), a size is malformed, or the boxes run past `first`. Looks at 64
 * boxes at most. Never throws.
 */
export function mp4MoovOffset(first: Buffer, fileSize: number): number | null {
  let off = 0
  for (let n = 0; n < 64 && off + 8 <= first.length; n++) {
    const box = readBoxHeader(first, off)
    if (!box || (n === 0 && box.type !== 'ftyp')) return null
    if (box.type === 'moov' || box.size === 0) return null
    if (box.size < 8) return null
    if (box.type === 'mdat') return off + box.size < fileSize ? off + box.size : null
    off += box.size
  }
  return null
}
