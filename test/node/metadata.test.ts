/**
 * Metadata of real media (issue 12): tags of tagged copies of the Debian Ogg music (it has no
 * tags of its own), duration and resolution of the Debian MP4 clips (ffprobe), control
 * characters, broken tags, huge embedded pictures, and the cache by content id across restarts.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { Library } from '../../src/node/library.ts'
import { readMetadata, MAX_TAG_BLOCK_BYTES } from '../../src/node/metadata.ts'
import { MetadataCache } from '../../src/node/metadata-cache.ts'
import { MetadataWorker } from '../../src/node/metadata-worker.ts'
import { cleanTag, toMediaMeta } from '../../src/protocol/media-meta.ts'
import { MAX_TAG_BYTES } from '../../src/protocol/constants.ts'
import { id3WithPicture, plainMp3, taggedCopy } from '../helpers/tagged-media.ts'
import { SMALL_CLIP, VIDEO_DIR, tempDir } from '../helpers/nodes.ts'

const run = promisify(execFile)

/** ffprobe's own reading of a file's duration (s) and first video stream size. */
async function ffprobe(file: string): Promise<{ duration: number; width?: number; height?: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=width,height', '-of', 'json', file])
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: Array<{ width?: number; height?: number }> }
  const v = j.streams.find((s) => s.width)
  return { duration: Number(j.format.duration), width: v?.width, height: v?.height }
}

test('readMetadata: the tags of a tagged Ogg Vorbis track, with its duration, bitrate and codec', async (t) => {
  const dir = await tempDir(t)
  const f = await taggedCopy(dir, 'a.ogg', {
    title: 'Fuga en Re',
    artist: 'Café Tacvba',
    album: 'Drascula OST',
    album_artist: 'Alcachofa',
    genre: 'Soundtrack',
    date: '1996',
    tracknumber: '12',
    discnumber: '2'
  })
  const r = await readMetadata(f, 'audio', (await fs.stat(f)).size)
  t.deepEqual(r.warnings, [])
  const m = r.meta!
  t.like(m, { title: 'Fuga en Re', artist: 'Café Tacvba', album: 'Drascula OST', albumArtist: 'Alcachofa', genre: 'Soundtrack', year: 1996, track: 12, disc: 2, codec: 'Vorbis I' })
  const real = await ffprobe(f)
  t.true(Math.abs(m.durationMs! - real.duration * 1000) < 100, `duration ${m.durationMs} ms vs ffprobe ${real.duration} s`)
  t.true(m.bitrate! > 50_000 && m.bitrate! < 500_000, `bitrate ${m.bitrate}`)
})

test('readMetadata: an MP4 clip gets its duration and resolution from ffprobe', async (t) => {
  const f = path.join(VIDEO_DIR, SMALL_CLIP)
  const r = await readMetadata(f, 'video', (await fs.stat(f)).size)
  const real = await ffprobe(f)
  t.is(r.meta?.width, real.width)
  t.is(r.meta?.height, real.height)
  t.true(Math.abs(r.meta!.durationMs! - real.duration * 1000) < 2, `${r.meta?.durationMs} ms vs ${real.duration} s`)
  t.is(r.meta?.codec, 'h264')
})

test('readMetadata: control characters and terminal escapes are stripped from tags; long tags are cut', async (t) => {
  const dir = await tempDir(t)
  const f = await taggedCopy(dir, 'esc.ogg', { title: 'red\x1b[31m alert\x07 \u202eevil', artist: 'x'.repeat(600) })
  const r = await readMetadata(f, 'audio', (await fs.stat(f)).size)
  t.is(r.meta?.title, 'red [31m alert evil')
  t.is(r.meta?.artist, 'x'.repeat(MAX_TAG_BYTES))
})

test('readMetadata: broken tags (a garbage ID3 block, a truncated Ogg) give what can be read, no exception', async (t) => {
  const dir = await tempDir(t)
  const mp3 = await plainMp3(path.join(dir, 'plain.mp3'))
  const garbage = Buffer.concat([Buffer.from('ID3\x03\x00\x00\x00\x00\x02\x00', 'latin1'), Buffer.alloc(256, 0xff), mp3])
  await fs.writeFile(path.join(dir, 'bad.mp3'), garbage)
  const bad = await readMetadata(path.join(dir, 'bad.mp3'), 'audio', garbage.length)
  t.true(bad.meta === undefined || typeof bad.meta === 'object')
  const full = await taggedCopy(dir, 'full.ogg', { title: 'Entera' })
  const bytes = await fs.readFile(full)
  await fs.writeFile(path.join(dir, 'cut.ogg'), bytes.subarray(0, 20_000))
  const cut = await readMetadata(path.join(dir, 'cut.ogg'), 'audio', 20_000)
  t.is(cut.meta?.title, 'Entera', 'the tags are in the first pages')
  await fs.writeFile(path.join(dir, 'noise.ogg'), Buffer.alloc(5000, 0x4f))
  const noise = await readMetadata(path.join(dir, 'noise.ogg'), 'audio', 5000)
  t.true(noise.warnings.length > 0, 'says what failed')
})

test('readMetadata: an embedded picture is noticed, not kept; an ID3 block over the cap is left to ffprobe', async (t) => {
  const dir = await tempDir(t)
  const mp3 = await plainMp3(path.join(dir, 'plain.mp3'))
  const small = path.join(dir, 'small-cover.mp3')
  await fs.writeFile(small, Buffer.concat([id3WithPicture('Portada', 300_000), mp3]))
  const s = await readMetadata(small, 'audio', (await fs.stat(small)).size)
  t.is(s.meta?.title, 'Portada')
  t.true(s.cover)
  t.false('picture' in (s.meta ?? {}))
  const huge = path.join(dir, 'huge-cover.mp3')
  await fs.writeFile(huge, Buffer.concat([id3WithPicture('Enorme', MAX_TAG_BLOCK_BYTES + 1024), mp3]))
  const before = process.memoryUsage().arrayBuffers
  const h = await readMetadata(huge, 'audio', (await fs.stat(huge)).size)
  t.true(
    h.warnings.some((w) => w.includes('not parsed in-process')),
    h.warnings.join()
  )
  t.is(h.meta?.title, 'Enorme', 'ffprobe read the title in its own process')
  t.true(h.meta!.durationMs! > 2500)
  t.true(process.memoryUsage().arrayBuffers - before < MAX_TAG_BLOCK_BYTES, 'the 16 MiB block was not read into this process')
})

test('cleanTag and toMediaMeta keep only clean text and in-range integers', (t) => {
  t.is(cleanTag('  a\tb\n\nc  '), 'a b c')
  t.is(cleanTag('\u0000\u0001'), undefined)
  t.is(cleanTag(42), undefined)
  t.is(cleanTag('\uD800x'), '\uFFFDx')
  t.is(Buffer.byteLength(cleanTag('é'.repeat(300))!), MAX_TAG_BYTES, 'cut at a character boundary')
  t.deepEqual(toMediaMeta({ title: 'T', year: 99999, track: 3.4, durationMs: -1, width: 'x', extra: 1 }), { title: 'T', track: 3 })
  t.is(toMediaMeta({ year: 'soon' }), undefined)
  t.is(toMediaMeta([1]), undefined)
})

test('Library: metadata is read once per content id and comes from the cache after a restart', async (t) => {
  const dir = await tempDir(t)
  const share = path.join(dir, 'music')
  await taggedCopy(share, 'Tacvba/Re/01 Fuga.ogg', { title: 'Fuga', artist: 'Café Tacvba', album: 'Re', tracknumber: '1' })
  await taggedCopy(share, 'Tacvba/Re/02 Ingrata.ogg', { title: 'Ingrata', artist: 'Café Tacvba', album: 'Re', tracknumber: '2' }, path.join('/usr/share/scummvm/drascula/audio', 'track13.ogg'))
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'clip.mp4'))
  const cacheFile = path.join(dir, 'state', 'content-ids.json')
  const lib = new Library({ cacheFile })
  await lib.addShare(share)
  await lib.whenHashed()
  await lib.metadata!.idle()
  t.is(lib.metadata!.readCount, 3)
  t.like(lib.get('Tacvba/Re/02 Ingrata.ogg')?.meta, { title: 'Ingrata', artist: 'Café Tacvba', track: 2 })
  t.truthy(lib.get('clip.mp4')?.meta?.width)
  await lib.stop()
  const again = new Library({ cacheFile })
  await again.addShare(share)
  await again.whenHashed()
  await again.metadata!.idle()
  t.is(again.metadata!.readCount, 0, 'no tags read again')
  t.like(again.get('Tacvba/Re/01 Fuga.ogg')?.meta, { title: 'Fuga', album: 'Re', track: 1 })
  t.deepEqual(again.get('clip.mp4')?.meta, lib.get('clip.mp4')?.meta)
  await again.stop()
})

test('MetadataCache: two processes writing the same cache file keep each other entries', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'metadata.json')
  const a = new MetadataCache(file)
  const b = new MetadataCache(file)
  await a.load()
  await b.load()
  a.set('aa'.repeat(32), { meta: { title: 'A' } })
  b.set('bb'.repeat(32), { meta: { title: 'B' } })
  await a.save()
  await b.save()
  const c = new MetadataCache(file)
  await c.load()
  t.is(c.get('aa'.repeat(32))?.meta?.title, 'A')
  t.is(c.get('bb'.repeat(32))?.meta?.title, 'B')
})

test('MetadataWorker: reads on a worker thread, one file at a time, give what readMetadata gives; a missing file and stop() give no metadata', async (t) => {
  const dir = await tempDir(t)
  const f = await taggedCopy(dir, 'a.ogg', { title: 'Uno', artist: 'Dos' })
  const clip = path.join(VIDEO_DIR, SMALL_CLIP)
  const w = new MetadataWorker()
  t.teardown(() => w.stop())
  const [a, v, missing] = await Promise.all([w.read(f, 'audio', (await fs.stat(f)).size), w.read(clip, 'video', (await fs.stat(clip)).size), w.read(path.join(dir, 'gone.ogg'), 'audio', 10)])
  t.deepEqual(a, await readMetadata(f, 'audio', (await fs.stat(f)).size))
  t.like(a.meta, { title: 'Uno', artist: 'Dos' })
  t.true(v.meta!.width! > 0)
  t.is(missing.meta, undefined)
  t.true(missing.warnings.length > 0)
  const queued = [w.read(f, 'audio', 10), w.read(f, 'audio', 10)]
  await w.stop()
  t.deepEqual(
    (await Promise.all(queued)).map((r) => r.warnings),
    [['stopped'], ['stopped']]
  )
})
