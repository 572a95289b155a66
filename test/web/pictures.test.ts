/**
 * Pictures on the web page (issue #12): a video's poster frame, an MP3's embedded cover and a
 * photo's thumbnail are small JPEGs made by ffmpeg once per content id (real media: Debian's
 * lebiniou-data clips and pictures, drascula-music tracks, ffmpeg); photos carry their EXIF date
 * and size. Bad input: an HLS playlist named .mp4 (ffmpeg would read a file outside the share),
 * a 4000-px embedded cover, a file that is not a picture at all.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { MAX_THUMB_BYTES } from '../../src/node/metadata-pictures.ts'
import { AUDIO_DIR, SMALL_CLIP, VIDEO_DIR, startNode, tempDir } from '../helpers/nodes.ts'
import { bigJpeg, jpegWithExifDate, mp3WithCover } from '../helpers/tagged-media.ts'
import { raw, startWeb } from './helpers.ts'

const run = promisify(execFile)
const PICTURE = '/usr/share/lebiniou/images/covid-19/coronavirus.jpg' // a JFIF JPEG, 615 × 384, no EXIF

/** Width and height of a JPEG from its first SOFn marker (ITU T.81 B.2.2). */
function jpegSize(b: Buffer): { width: number; height: number } {
  for (let i = 2; i + 9 < b.length;) {
    const marker = b[i + 1]!
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) }
    i += 2 + b.readUInt16BE(i + 2)
  }
  throw new Error('no SOF marker')
}

test('a poster frame, an embedded cover and a photo thumbnail: small JPEGs made once per content id; the photo has its EXIF date and size', async (t) => {
  const share = await tempDir(t)
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'clip.mp4'))
  await mp3WithCover(share, 'Album/01 cover.mp3', PICTURE, { artist: 'Cover Artist', album: 'Album', title: 'With Cover', track: '1' })
  await fs.copyFile(path.join(AUDIO_DIR, 'track1.ogg'), path.join(share, 'Album/02 no cover.ogg'))
  await jpegWithExifDate(PICTURE, path.join(share, 'photo.jpg'), '2019:07:14 10:22:33')
  const node = await startNode(t, { shares: [share] })
  await node.library.whenHashed()
  await node.library.metadata!.idle()
  const web = await startWeb(t, node)
  const cid = (name: string): string => node.library.get(name)!.cid!

  for (const name of ['clip.mp4', 'Album/01 cover.mp3', 'photo.jpg']) {
    const r = await raw(web, `/picture/${cid(name)}`)
    t.is(r.status, 200, name)
    t.is(r.headers['content-type'], 'image/jpeg')
    t.is(r.headers['x-content-type-options'], 'nosniff')
    t.true(r.body.length > 500 && r.body.length <= MAX_THUMB_BYTES, `${name}: ${r.body.length} bytes`)
    const { width, height } = jpegSize(r.body)
    t.true(Math.max(width, height) <= 320 && width > 0, `${name}: ${width}×${height}`)
    t.log(`${name}: ${r.body.length} B, ${width}×${height}`)
  }
  const made = node.library.metadata!.pictures.made
  t.is(made, 3)
  t.is((await raw(web, `/picture/${cid('clip.mp4')}`)).status, 200)
  t.is(node.library.metadata!.pictures.made, 3, 'cached: no second ffmpeg run')
  t.is((await raw(web, `/picture/${cid('Album/02 no cover.ogg')}`)).status, 404, 'a track without a cover has no picture')
  t.is((await raw(web, `/picture/${'0'.repeat(64)}`)).status, 404)
  t.is((await raw(web, '/picture/../etc/passwd')).status, 404)

  const photo = node.library.get('photo.jpg')!.meta
  t.deepEqual(photo, { width: 615, height: 384, taken: '2019-07-14T10:22:33', year: 2019 })
  const lib = JSON.parse((await raw(web, '/api/library')).body.toString()) as { files: Array<{ name: string; picture?: string; meta?: { taken?: string; durationMs?: number } }> }
  const p = lib.files.find((f) => f.name === 'photo.jpg')!
  t.is(p.picture, `/picture/${cid('photo.jpg')}`)
  t.is(p.meta?.taken, '2019-07-14T10:22:33')
  t.true((lib.files.find((f) => f.name === 'clip.mp4')!.meta?.durationMs ?? 0) > 1000)
})

test('unsafe input: an HLS playlist named .mp4 never makes ffmpeg read outside the share; a 4000-px cover is cut to a small thumbnail; a non-picture gives none', async (t) => {
  const share = await tempDir(t)
  const outside = await tempDir(t)
  // A segment outside the share that an unrestricted ffmpeg would read through the playlist.
  await run('ffmpeg', ['-v', 'error', '-y', '-i', path.join(VIDEO_DIR, SMALL_CLIP), '-c', 'copy', '-f', 'mpegts', path.join(outside, 'secret.ts')])
  await fs.writeFile(path.join(share, 'playlist.mp4'), `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n${path.join(outside, 'secret.ts')}\n#EXT-X-ENDLIST\n`)
  const unrestricted = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', `file:${path.join(share, 'playlist.mp4')}`, '-map', '0:v:0', '-frames:v', '1', '-f', 'image2pipe', 'pipe:1'], {
    encoding: 'buffer'
  }).catch(() => null)
  t.log(`ffmpeg without the whitelists made ${unrestricted?.stdout.length ?? 0} bytes from the file outside the share`)
  const big = await bigJpeg(path.join(outside, 'big.jpg'), PICTURE, 4000)
  t.true(big.length > 500_000, `a ${big.length}-byte cover`)
  await mp3WithCover(share, 'big cover.mp3', path.join(outside, 'big.jpg'), { title: 'Big Cover' })
  await fs.writeFile(path.join(share, 'not a photo.jpg'), Buffer.alloc(5000, 0x41))
  const node = await startNode(t, { shares: [share] })
  await node.library.whenHashed()
  await node.library.metadata!.idle()
  const web = await startWeb(t, node)
  const cid = (name: string): string => node.library.get(name)!.cid!

  t.is((await raw(web, `/picture/${cid('playlist.mp4')}`)).status, 404, 'the playlist is refused (format whitelist)')
  const cover = await raw(web, `/picture/${cid('big cover.mp3')}`)
  t.is(cover.status, 200)
  t.true(cover.body.length <= MAX_THUMB_BYTES, `${cover.body.length} bytes`)
  t.deepEqual(jpegSize(cover.body), { width: 320, height: 320 })
  t.is((await raw(web, `/picture/${cid('not a photo.jpg')}`)).status, 404)
  t.is(node.library.get('not a photo.jpg')!.meta, undefined, 'no EXIF, no size: no metadata, no exception')
  // The node keeps serving.
  t.is((await raw(web, '/api/library')).status, 200)
})
