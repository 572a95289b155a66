/**
 * The LAN web server over plain HTTP: page and JSON, byte ranges on library files, bad input,
 * and /stream of a network search result while it downloads.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { contentIdOfBytes } from '../../src/protocol/merkle.ts'
import { escapeHtml } from '../../src/web/page.ts'
import { BIG_CLIP, handlesClosed, SMALL_CLIP, shareWith, spawnCli, startNode, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'
import { raw, startWeb, webSearch } from './helpers.ts'

const EVIL = '<img src=x onerror=alert(1)>.mp4'

test('page and /api/library list the shared files; names are HTML-escaped', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP, [SMALL_CLIP, `sub/${EVIL}`], [BIG_CLIP, 'a "quoted" & \'odd\' name.mp4']])] })
  const web = await startWeb(t, node)
  const page = await raw(web, '/')
  t.is(page.status, 200)
  t.is(page.headers['content-type'], 'text/html; charset=utf-8')
  t.regex(String(page.headers['content-security-policy']), /script-src 'nonce-[^']+'/)
  const html = page.body.toString()
  t.false(html.includes('<img src=x'), 'a file name never becomes markup')
  t.true(html.includes(escapeHtml(`sub/${EVIL}`)))
  t.true(html.includes('a &quot;quoted&quot; &amp; &#39;odd&#39; name.mp4'))
  t.true(html.includes(SMALL_CLIP))
  t.false(/https?:\/\/(?!localhost)/.test(html.replace(/http:\/\/www\.w3\.org\/[^"]*/g, '')), 'nothing fetched from elsewhere')
  const lib = JSON.parse((await raw(web, '/api/library')).body.toString()) as { node: string; files: Array<{ name: string; size: number; kind: string; contentId: string; url: string }> }
  t.is(lib.node, node.id)
  t.is(lib.files.length, 3)
  const evil = lib.files.find((f) => f.name === `sub/${EVIL}`)
  t.truthy(evil)
  t.is(evil!.kind, 'video')
  t.is(evil!.url, `/media/${evil!.contentId}`)
  t.true(html.includes(`data-src="/media/${evil!.contentId}"`))
  t.is(escapeHtml('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;')
})

test('/media/<cid>: 40 clients that go away mid-response leave no file handle open, and the server keeps serving', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])] })
  const web = await startWeb(t, node)
  const [e] = node.library.entries()
  const file = e!.path
  await Promise.all(
    Array.from(
      { length: 40 },
      () =>
        new Promise<void>((resolve) => {
          const req = http.request({ host: '127.0.0.1', port: web.port, path: `/media/${e!.cid}` }, (res) => {
            res.once('data', () => req.destroy()) // gone after the first bytes of 4.3 MB
          })
          req.on('error', () => {})
          req.on('close', () => resolve())
          req.end()
        })
    )
  )
  // The server's side winds down asynchronously: poll the open handles (bounded).
  t.is(await handlesClosed(file), 0, 'no handle left open on the shared file')
  const again = await raw(web, `/media/${e!.cid}`, { headers: { Range: 'bytes=0-99' } })
  t.is(again.status, 206)
})

test('/media/<cid>: 200 whole file, 206 exact bytes for ranges, 416, HEAD', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])] })
  const web = await startWeb(t, node)
  const bytes = await fs.readFile(path.join(VIDEO_DIR, BIG_CLIP))
  const [e] = node.library.entries()
  const url = `/media/${e!.cid}`

  const whole = await raw(web, url)
  t.is(whole.status, 200)
  t.is(whole.headers['content-type'], 'video/mp4')
  t.is(whole.headers['accept-ranges'], 'bytes')
  t.is(Number(whole.headers['content-length']), bytes.length)
  t.true(whole.body.equals(bytes))

  const mid = await raw(web, url, { headers: { Range: 'bytes=1000-1999' } })
  t.is(mid.status, 206)
  t.is(mid.headers['content-range'], `bytes 1000-1999/${bytes.length}`)
  t.is(Number(mid.headers['content-length']), 1000)
  t.true(mid.body.equals(bytes.subarray(1000, 2000)))

  const open = await raw(web, url, { headers: { Range: `bytes=${bytes.length - 300_000}-` } })
  t.is(open.status, 206)
  t.true(open.body.equals(bytes.subarray(bytes.length - 300_000)), 'a range over several slices is exact')

  const suffix = await raw(web, url, { headers: { Range: 'bytes=-500' } })
  t.is(suffix.headers['content-range'], `bytes ${bytes.length - 500}-${bytes.length - 1}/${bytes.length}`)
  t.true(suffix.body.equals(bytes.subarray(bytes.length - 500)))

  const past = await raw(web, url, { headers: { Range: `bytes=${bytes.length}-` } })
  t.is(past.status, 416)
  t.is(past.headers['content-range'], `bytes */${bytes.length}`)

  const head = await raw(web, url, { method: 'HEAD', headers: { Range: 'bytes=0-99' } })
  t.is(head.status, 206)
  t.is(Number(head.headers['content-length']), 100)
  t.is(head.body.length, 0)
})

test('bad input: unknown cid, path traversal, other routes and methods, bad search and stream parameters', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP])] })
  const web = await startWeb(t, node)
  const cid = node.library.entries()[0]!.cid as string
  t.is((await raw(web, `/media/${'0'.repeat(64)}`)).status, 404)
  t.regex((await raw(web, `/media/${'0'.repeat(64)}`)).body.toString(), /no shared file has this content id/)
  for (const p of [
    '/media/..%2f..%2fetc%2fpasswd',
    '/media/../../etc/passwd',
    '/media/%2e%2e/%2e%2e/etc/passwd',
    '/media/..\\..\\etc\\passwd',
    `/media/${cid}/../../../etc/passwd`,
    `/media/${cid}%00`,
    `/media/${cid.toUpperCase()}x`,
    `/media/${SMALL_CLIP}`,
    '/media/',
    '/etc/passwd',
    '/stream/..%2f..%2fetc%2fpasswd?holder=127.0.0.1:1',
    `/${SMALL_CLIP}`
  ]) {
    const r = await raw(web, p)
    t.is(r.status, 404, p)
    t.false(r.body.toString().includes('root:'), p)
  }
  t.is((await raw(web, '/media')).status, 404)
  const post = await raw(web, `/media/${cid}`, { method: 'POST' })
  t.is(post.status, 405)
  t.is(post.headers.allow, 'GET, HEAD')
  t.is((await raw(web, '/api/search')).status, 400)
  t.is((await raw(web, `/api/search?q=${'x'.repeat(300)}`)).status, 400)
  t.is((await raw(web, '/api/search?q=x&timeout=999')).status, 400)
  t.is((await raw(web, '/api/search?q=x&timeout=abc')).status, 400)
  t.is((await raw(web, `/stream/${cid}`)).status, 400, 'holder is required')
  t.is((await raw(web, `/stream/${cid}?holder=evil.example:80/x`)).status, 400)
  const unknown = await raw(web, `/stream/${cid}?holder=127.0.0.1:9`)
  t.is(unknown.status, 404, 'only pairs a search answered are fetched')
  t.regex(unknown.body.toString(), /search for it first/)
  t.is(node.downloads.size, 0, 'nothing was downloaded')
  t.is((await raw(web, '/%zz')).status, 404)
})

test('search results from the network stream from /stream while they download (seek to the end first)', async (t) => {
  // 300 kB/s: the 4.3 MB clip takes ~14 s, so every request below is served mid-download.
  const seeder = await startNode(t, { shares: [await shareWith(t, [[BIG_CLIP, 'remote clip.mp4'], SMALL_CLIP])], rateLimit: 300_000 })
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const web = await startWeb(t, viewer)
  const lines = await webSearch(web, 'remote clip')
  const results = lines.filter((l) => l.type === 'result')
  t.is(results.length, 1)
  t.deepEqual(lines.at(-1), { type: 'done', results: 1 })
  const r = results[0] as Extract<(typeof lines)[number], { type: 'result' }>
  t.is(r.holder, seeder.id)
  t.is(r.kind, 'video')
  t.is(r.url, `/stream/${r.contentId}?holder=${encodeURIComponent(seeder.id)}&name=${encodeURIComponent('remote clip.mp4')}`)
  const bytes = await fs.readFile(path.join(VIDEO_DIR, BIG_CLIP))

  const probe = await raw(web, r.url!, { method: 'HEAD' })
  t.is(probe.status, 200)
  t.is(Number(probe.headers['content-length']), bytes.length)
  t.is(viewer.downloads.size, 0, 'HEAD does not start a download')

  // The moov atom is at the end of this file: a browser asks for the tail first.
  const tail = await raw(web, r.url!, { headers: { Range: `bytes=${bytes.length - 200_000}-` } })
  t.is(tail.status, 206)
  t.true(tail.body.equals(bytes.subarray(bytes.length - 200_000)))
  const d = [...viewer.downloads.values()][0]!
  t.is(d.state, 'downloading', 'served before the download finished')
  t.true(d.received < bytes.length)

  const head = await raw(web, r.url!, { headers: { Range: 'bytes=0-65535' } })
  t.true(head.body.equals(bytes.subarray(0, 65536)))
  t.is(viewer.downloads.size, 1, 'the download is reused')
  t.is(d.state, 'downloading')

  // The whole file, streamed as it arrives, has the content id.
  const whole = await raw(web, r.url!)
  t.is(whole.status, 200)
  t.is(contentIdOfBytes(whole.body), r.contentId as string)
  const res = await d.start()
  t.is(res.sha256, r.contentId as string)
  // Done: now served from the finished file.
  const again = await raw(web, r.url!, { headers: { Range: 'bytes=100-199' } })
  t.true(again.body.equals(bytes.subarray(100, 200)))
})

test('p2ptube node --http PORT --http-host 127.0.0.1 serves the page; a bad --http exits 2', async (t) => {
  const share = await shareWith(t, [SMALL_CLIP])
  const p = spawnCli(t, ['node', '--json', '--data', await tempDir(t), '--share', share, '--http', '0', '--http-host', '127.0.0.1'])
  const ev = await p.next('http')
  t.is(ev.host, '127.0.0.1')
  t.regex(String(ev.url), /^http:\/\/127\.0\.0\.1:\d+$/)
  t.deepEqual(ev.urls, [`${String(ev.url)}/`])
  await p.next('indexed')
  const lib = (await (await fetch(`${String(ev.url)}/api/library`)).json()) as { files: Array<{ name: string; url: string }> }
  t.deepEqual(
    lib.files.map((f) => f.name),
    [SMALL_CLIP]
  )
  const media = await fetch(`${String(ev.url)}${lib.files[0]!.url}`, { headers: { Range: 'bytes=0-9' } })
  t.is(media.status, 206)
  t.true(Buffer.from(await media.arrayBuffer()).equals((await fs.readFile(path.join(VIDEO_DIR, SMALL_CLIP))).subarray(0, 10)))
  t.true((await (await fetch(`${String(ev.url)}/`)).text()).includes(SMALL_CLIP))
  p.send({ cmd: 'quit' })
  t.is(await p.exited, 0)
  await t.throwsAsync(fetch(`${String(ev.url)}/`), undefined, 'the web server stops with the node')

  const bad = spawnCli(t, ['node', '--json', '--http', '70000'])
  t.is(await bad.exited, 2)
  t.regex(bad.stderr() + JSON.stringify(bad.events), /--http must be a port/)
})
