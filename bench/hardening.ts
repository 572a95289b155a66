/**
 * What the issue #11 defences of the web helper cost (docs/SECURITY.md "Attacks tried"): each
 * figure is the mean of many runs on this machine, printed per operation. Compare builds only in
 * the same run (the machine's speed drifts).
 *   node --import=tsx bench/hardening.ts
 */
import fs from 'node:fs/promises'
import type http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { tryLock } from '../src/node/file-lock.ts'
import { openIndexed } from '../src/node/indexed-file.ts'
import { unsafeHead } from '../src/player/media-format.ts'
import { safeText } from '../src/text/safe-text.ts'
import { WebAccess } from '../src/web/access.ts'

async function per(label: string, n: number, fn: () => unknown): Promise<void> {
  for (let i = 0; i < Math.min(n, 1000); i++) await fn() // warm up
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await fn()
  const us = ((performance.now() - t0) * 1000) / n
  console.log(`${label.padEnd(58)} ${us.toFixed(2).padStart(9)} µs`)
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-bench-'))
try {
  const name = 'lebiniou-2021-06-10_12-19-53 (a rather ordinary name).mp4'
  const evil = 'title\u001b]0;pwned\u0007 clear\u001b[2J csi\u009b31m forged\nline.mp4'
  await per('safeText, 60-char ordinary name', 200_000, () => safeText(name))
  await per('safeText, 60-char name with 6 controls', 200_000, () => safeText(evil))

  const open = new WebAccess()
  const locked = new WebAccess({ token: 'x'.repeat(43) })
  const login = locked.login('x'.repeat(43), '127.0.0.1')
  const cookie = 'cookie' in login ? login.cookie.split(';')[0] : ''
  const req = { headers: { host: '192.168.1.5:8080', cookie, 'sec-fetch-site': 'same-origin' } } as unknown as http.IncomingMessage
  await per('web: Host/Origin check (loopback, no login)', 200_000, () => open.checkOrigin(req))
  await per('web: Host/Origin check + session cookie lookup', 200_000, () => locked.checkOrigin(req) ?? locked.authorized(req))

  const head = Buffer.alloc(512, 7)
  await per('player: sniff 512 bytes of a media head', 200_000, () => unsafeHead(head))

  const file = path.join(dir, 'clip.mp4')
  await fs.writeFile(file, Buffer.alloc(1 << 20))
  const st = await fs.stat(file)
  await per('serve: plain open + close', 20_000, async () => (await fs.open(file, 'r')).close())
  await per('serve: openIndexed (O_NOFOLLOW + fstat identity) + close', 20_000, async () => (await openIndexed({ path: file, size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino })).close())

  const lock = path.join(dir, 'x.p2ptube-part.lock')
  await per('download: part-file lock taken and released', 5_000, async () => {
    const r = await tryLock(lock)
    if (typeof r === 'function') await r()
  })
} finally {
  await fs.rm(dir, { recursive: true, force: true })
}
