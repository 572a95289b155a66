// The hash worker's thread (hash-worker.ts starts it): SHA-256 checks of pieces against a hash
// list, the in-order whole-file hash, and the write of verified pieces, per file key. Plain
// JavaScript so it runs without a TypeScript loader, from src/ (tests, tsx) and from dist/ (the
// build copies it: allowJs in tsconfig.build.json).
// Messages in: { op: 'open' | 'close' | 'pieces' | 'data' | 'digest', id, file, ... };
// replies: { id, ok, pos, buf?, good?, hex?, error? }. Buffers are transferred both ways.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { parentPort } from 'node:worker_threads'

const files = new Map()
function writeAll(f, buf, pos, done) {
  fs.write(f.fd, buf, 0, buf.length, pos, (err, n) => {
    if (err) return done(err)
    if (n < buf.length) return writeAll(f, buf.subarray(n), pos + n, done)
    done(null)
  })
}
// Close a file's handle once its writes in flight are done.
function closeFile(key) {
  const f = files.get(key)
  files.delete(key)
  if (!f || f.fd < 0) return
  const close = () => {
    try {
      fs.closeSync(f.fd)
    } catch {
      // already closed: nothing to release
    }
  }
  if (f.writes) f.closing = close
  else close()
}
parentPort.on('message', (m) => {
  if (m.op === 'open') {
    let fd = -1
    try {
      // O_NOFOLLOW: never write through a symlink planted under the partial's name (SECURITY.md).
      if (m.path) fd = fs.openSync(m.path, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW)
    } catch (err) {
      fd = -1
    }
    files.set(m.file, { hash: createHash('sha256'), pos: m.pos || 0, fd, writes: 0, closing: null })
    return
  }
  if (m.op === 'close') return closeFile(m.file)
  const f = files.get(m.file)
  if (m.op === 'pieces') {
    const data = Buffer.from(m.buf, 0, m.len)
    const expected = Buffer.from(m.expected)
    let good = 0
    for (let o = 0; o < m.len; o += m.pieceSize) {
      const digest = createHash('sha256')
        .update(data.subarray(o, Math.min(o + m.pieceSize, m.len)))
        .digest()
      if (!digest.equals(expected.subarray(good * 32, good * 32 + 32))) break
      good++
    }
    const goodLen = Math.min(good * m.pieceSize, m.len)
    const reply = (error) => parentPort.postMessage({ id: m.id, ok: true, good, error, pos: f ? f.pos : 0, buf: m.buf }, [m.buf])
    if (goodLen > 0 && f) {
      if (m.offset === f.pos) {
        f.hash.update(data.subarray(0, goodLen))
        f.pos += goodLen
      }
      if (f.fd < 0) return reply('ENOENT the download file is not open')
      // The write runs on the thread pool while the next batch is hashed here.
      f.writes++
      writeAll(f, data.subarray(0, goodLen), m.offset, (err) => {
        f.writes--
        reply(err ? (err.code || '') + ' ' + err.message : null)
        if (!f.writes && f.closing) f.closing()
      })
      return
    }
    reply(null)
  } else if (m.op === 'data') {
    if (f && m.offset === f.pos) {
      f.hash.update(Buffer.from(m.buf, 0, m.len))
      f.pos += m.len
    }
    parentPort.postMessage({ id: m.id, ok: true, pos: f ? f.pos : 0, buf: m.buf }, [m.buf])
  } else if (m.op === 'digest') {
    parentPort.postMessage({ id: m.id, ok: true, pos: f ? f.pos : 0, hex: f ? f.hash.digest('hex') : '' })
    closeFile(m.file)
  }
})
