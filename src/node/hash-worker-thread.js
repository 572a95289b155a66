// The hash worker's thread (hash-worker.ts starts it): SHA-256 checks of pieces against a hash
// list, and the write of verified pieces, per file key. Each byte is hashed once: the digests of
// the good pieces go back to the download, which checks their Merkle root against the content id
// at the end (PROTOCOL.md §4.8). Plain JavaScript so it runs without a TypeScript loader, from
// src/ (tests, tsx) and from dist/ (the build copies it: allowJs in tsconfig.build.json).
// Messages in: { op: 'open' | 'close' | 'pieces', id, file, ... };
// replies: { id, good, leaves, buf, error? }. Buffers are transferred both ways.
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
    } catch {
      fd = -1
    }
    files.set(m.file, { fd, writes: 0, closing: null })
    return
  }
  if (m.op === 'close') return closeFile(m.file)
  if (m.op !== 'pieces') return
  const f = files.get(m.file)
  const data = Buffer.from(m.buf, 0, m.len)
  const expected = Buffer.from(m.expected)
  const leaves = Buffer.allocUnsafe(Math.ceil(m.len / m.pieceSize) * 32)
  let good = 0
  for (let o = 0; o < m.len; o += m.pieceSize) {
    const digest = createHash('sha256')
      .update(data.subarray(o, Math.min(o + m.pieceSize, m.len)))
      .digest()
    if (!digest.equals(expected.subarray(good * 32, good * 32 + 32))) break
    digest.copy(leaves, good * 32)
    good++
  }
  const goodLen = Math.min(good * m.pieceSize, m.len)
  const out = new Uint8Array(leaves.subarray(0, good * 32)).buffer
  const reply = (error) => parentPort.postMessage({ id: m.id, good, leaves: out, error, buf: m.buf }, [m.buf, out])
  if (goodLen > 0 && m.write) {
    if (!f || f.fd < 0) return reply('ENOENT the download file is not open')
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
})
