/**
 * mpv trusts content, not extensions (issue #11 item 9): a shared `.mp4` that is really an M3U
 * playlist, an mpv EDL file or an HLS list must not make the viewer's mpv request URLs the
 * sender chose. Real headless mpv, a canary HTTP server that records every request, and a real
 * seeder sharing such files.
 */
import test, { type ExecutionContext } from 'ava'
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { playDownload } from '../../src/media/play-download.ts'
import { lavfFormat, unsafeHead } from '../../src/player/media-format.ts'
import { MpvPlayer } from '../../src/player/mpv-player.ts'
import { AUDIO_DIR, BIG_CLIP, startNode, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'

/** An HTTP server on 127.0.0.1 that records every path asked for. */
async function canary(t: ExecutionContext): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = []
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '')
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, hits }
}

/** Hostile `.mp4` contents that point mpv (0.35 defaults) at the canary. */
function hostile(port: number): Record<string, string> {
  const u = `http://127.0.0.1:${port}`
  return {
    'm3u.mp4': `#EXTM3U\n${u}/m3u-leak\n`,
    'edl.mp4': `# mpv EDL v0\n${u}/edl-leak,0,1\n`,
    'hls.mp4': `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n${u}/hls-leak.ts\n#EXT-X-ENDLIST\n`,
    'bare.mp4': `${u}/bare-leak\n`
  }
}

test('unsafeHead: playlists, EDL, PLS and URL lists are refused; every real clip and track passes', async (t) => {
  for (const [name, body] of Object.entries(hostile(1))) t.truthy(unsafeHead(Buffer.from(body)), name)
  t.truthy(unsafeHead(Buffer.from('\ufeff#EXTM3U\n/etc/passwd\n')), 'after a BOM')
  t.truthy(unsafeHead(Buffer.from('[playlist]\nFile1=http://x/y\n')))
  t.truthy(unsafeHead(Buffer.from('/home/someone/.ssh/id_rsa\n')), 'a list of paths')
  for (const dir of [VIDEO_DIR, AUDIO_DIR]) {
    for (const f of (await fs.readdir(dir)).slice(0, 20)) {
      const fh = await fs.open(path.join(dir, f), 'r')
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(512), 0, 512, 0)
      await fh.close()
      t.is(unsafeHead(buffer.subarray(0, bytesRead)), null, f)
    }
  }
  t.is(lavfFormat('x.MP4'), 'mov')
  t.is(lavfFormat('x.ogg'), 'ogg')
  t.is(lavfFormat('x.m3u'), null)
  t.is(lavfFormat('x.edl'), null)
})

test('real mpv opens an .mp4 with the mov demuxer only: M3U, EDL, HLS and bare URL lists make it request nothing', async (t) => {
  const c = await canary(t)
  const bodies = hostile(c.port)
  const server = http.createServer((req, res) => {
    const body = bodies[decodeURIComponent((req.url ?? '/').slice(1))] ?? ''
    res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': Buffer.byteLength(body) })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  const player = new MpvPlayer({ headless: true })
  t.teardown(() => player.quit())
  await player.start()
  for (const name of Object.keys(bodies)) {
    const err = await t.throwsAsync(player.play(`http://127.0.0.1:${port}/${name}`, { format: lavfFormat(name)!, signal: AbortSignal.timeout(20_000) }))
    t.is((err as Error & { code?: string }).code, 'ERR_MPV_LOAD', name)
  }
  t.deepEqual(c.hits, [], 'mpv requested none of the URLs inside')
  // The same mpv still plays real media with the forced demuxers.
  const clip = await fs.readFile(path.join(VIDEO_DIR, BIG_CLIP))
  bodies['real.mp4'] = clip.toString('latin1')
  const real = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': clip.length })
    res.end(req.method === 'HEAD' ? undefined : clip)
  })
  await new Promise<void>((resolve) => real.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    real.closeAllConnections()
    real.close()
  })
  await player.play(`http://127.0.0.1:${(real.address() as AddressInfo).port}/real.mp4`, { format: 'mov' })
  // play() resolving (file-loaded, no ERR_MPV_LOAD) is the proof. mpv does not always report the
  // duration again after the failed loads above (1 run in ~5 waited for ever), so it is checked
  // only when known.
  t.true(player.duration === null || player.duration > 1, `duration ${player.duration}`)
})

test('playDownload refuses a shared .mp4 that is a playlist (ERR_UNSAFE_MEDIA) before mpv sees it; the seeder keeps serving', async (t) => {
  const c = await canary(t)
  const share = await tempDir(t, 'p2ptube-share')
  for (const [name, body] of Object.entries(hostile(c.port))) await fs.writeFile(path.join(share, name), body)
  await fs.copyFile(path.join(VIDEO_DIR, BIG_CLIP), path.join(share, 'real.mp4'))
  const seeder = await startNode(t, { shares: [share] })
  const viewer = await startNode(t)
  const player = new MpvPlayer({ headless: true })
  t.teardown(() => player.quit())
  await player.start()
  for (const name of Object.keys(hostile(c.port))) {
    const e = seeder.library.entries().find((x) => x.name === name)!
    const d = viewer.fetch({ name, holder: seeder.id, contentId: e.cid!, size: e.size })
    const done = d.start()
    const err = await t.throwsAsync(playDownload(d, player, Promise.resolve()))
    t.is((err as Error & { code?: string }).code, 'ERR_UNSAFE_MEDIA', name)
    await done
  }
  t.deepEqual(c.hits, [])
  // A real clip from the same seeder plays.
  const e = seeder.library.entries().find((x) => x.name === 'real.mp4')!
  const d = viewer.fetch({ name: 'real.mp4', holder: seeder.id, contentId: e.cid!, size: e.size })
  const done = d.start()
  const playing = await playDownload(d, player, Promise.resolve())
  t.teardown(() => playing.stop())
  await done
  t.regex(playing.url, /^http:\/\/127\.0\.0\.1:\d+\//)
})
