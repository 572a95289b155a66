/**
 * BRWS, browsing a peer's whole library (PROTOCOL.md §4.9): a real node sharing tagged music and
 * a clip paged through in name order with tags; hostile pages (a million claimed entries, too
 * many per page, out of order, a cursor that does not move, an oversize reply) are capped or
 * refused; a peer that does not list BRWS in CAPS (a legacy peer closes) is ERR_NO_BROWSE.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { browsePeer, type BrowsePage } from '../../src/node/browse-client.ts'
import { FrameServer } from '../../src/net/server.ts'
import { BROWSE_PAGE_MAX, MAX_CONTROL_REPLY } from '../../src/protocol/constants.ts'
import { formatCaps, parseBrws } from '../../src/protocol/messages.ts'
import { CAPS_FEATURES } from '../../src/protocol/table.ts'
import { AUDIO_DIR, SMALL_CLIP, VIDEO_DIR, spawnCli, startNode, tempDir } from '../helpers/nodes.ts'
import { taggedCopy } from '../helpers/tagged-media.ts'

async function collect(it: AsyncGenerator<BrowsePage>): Promise<BrowsePage[]> {
  const pages: BrowsePage[] = []
  for await (const p of it) pages.push(p)
  return pages
}

async function musicShare(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t, 'p2ptube-music')
  await taggedCopy(dir, 'Tacvba/Re/01.ogg', { title: 'La Ingrata', artist: 'Café Tacvba', album: 'Re', tracknumber: '1' })
  await taggedCopy(dir, 'Tacvba/Re/02.ogg', { title: 'El Aparato', artist: 'Café Tacvba', album: 'Re', tracknumber: '2' }, path.join(AUDIO_DIR, 'track13.ogg'))
  await fs.mkdir(path.join(dir, 'films'))
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(dir, 'films', SMALL_CLIP))
  for (const n of ['a', 'b', 'c']) await fs.copyFile(path.join(AUDIO_DIR, `track1${n === 'a' ? 0 : n === 'b' ? 1 : 4}.ogg`), path.join(dir, `${n}.ogg`))
  return dir
}

test('browse a node: every entry once, in name order, with tags, one page per request', async (t) => {
  const holder = await startNode(t, { shares: [await musicShare(t)] })
  await holder.library.metadata!.idle()
  const pages = await collect(browsePeer({ host: '127.0.0.1', port: holder.port }, { pageSize: 2 }))
  t.is(pages.length, 3)
  const names = pages.flatMap((p) => p.entries.map((e) => e.name))
  t.deepEqual(names, ['Tacvba/Re/01.ogg', 'Tacvba/Re/02.ogg', 'a.ogg', 'b.ogg', 'c.ogg', `films/${SMALL_CLIP}`].sort())
  t.true(pages.every((p) => p.total === 6 && !p.cut))
  const ingrata = pages.flatMap((p) => p.entries).find((e) => e.name === 'Tacvba/Re/01.ogg')
  t.like(ingrata?.meta, { title: 'La Ingrata', artist: 'Café Tacvba', album: 'Re', track: 1 })
  t.is(ingrata?.cid, holder.library.get('Tacvba/Re/01.ogg')?.cid)
  const cut = await collect(browsePeer({ host: '127.0.0.1', port: holder.port }, { pageSize: 4, max: 5 }))
  t.is(cut.flatMap((p) => p.entries).length, 5)
  t.true(cut.at(-1)!.cut, 'the walk says it stopped at max')
  const rest = await collect(browsePeer({ host: '127.0.0.1', port: holder.port }, { after: cut.at(-1)!.after }))
  t.deepEqual(
    rest.flatMap((p) => p.entries.map((e) => e.name)),
    [`films/${SMALL_CLIP}`]
  )
})

/** A fake peer: CAPS lists BRWS; BRWS is answered by `page` (the request as parsed). */
async function fakePeer(t: Parameters<typeof tempDir>[0], page: (r: ReturnType<typeof parseBrws>) => string): Promise<{ port: number; requests: () => number }> {
  let n = 0
  const server = new FrameServer({
    handlers: new Map([
      ['CAPS', (ctx) => ctx.reply(formatCaps('127.0.0.1:1', CAPS_FEATURES))],
      [
        'BRWS',
        (ctx) => {
          n++
          return ctx.reply(page(parseBrws(ctx.payload)))
        }
      ]
    ])
  })
  const port = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close())
  return { port, requests: () => n }
}

const entry = (i: number): Record<string, unknown> => ({ name: `f${String(i).padStart(8, '0')}.ogg`, size: 1, cid: i.toString(16).padStart(64, '0'), kind: 'audio' })

test('a peer claiming a million entries is paged and capped: the walk stops at max, one page at a time', async (t) => {
  const peer = await fakePeer(t, (r) => {
    const from = r.after ? Number(r.after.slice(1, 9)) + 1 : 0
    const entries = Array.from({ length: r.max ?? 200 }, (_, i) => entry(from + i))
    return JSON.stringify({ total: 1_000_000, entries, next: entries.at(-1)!.name })
  })
  let most = 0
  let count = 0
  let last: BrowsePage | undefined
  for await (const p of browsePeer({ host: '127.0.0.1', port: peer.port }, { pageSize: BROWSE_PAGE_MAX, max: 3000 })) {
    most = Math.max(most, p.entries.length)
    count += p.entries.length
    last = p
  }
  t.is(count, 3000)
  t.is(most, BROWSE_PAGE_MAX)
  t.true(last?.cut)
  t.is(last?.total, 1_000_000)
  t.is(peer.requests(), 6)
})

test('bad pages are refused: too many entries, out of order, a cursor that does not move, an oversize reply', async (t) => {
  const cases: Array<[string, (r: ReturnType<typeof parseBrws>) => string, string]> = [
    ['too many', () => JSON.stringify({ total: 1e6, entries: Array.from({ length: BROWSE_PAGE_MAX + 1 }, (_, i) => entry(i)) }), 'ERR_MALFORMED_PAYLOAD'],
    ['out of order', () => JSON.stringify({ total: 2, entries: [entry(2), entry(1)] }), 'ERR_MALFORMED_PAYLOAD'],
    ['cursor stays', (r) => JSON.stringify({ total: 9, entries: r.after ? [] : [entry(1)], next: r.after ?? entry(1).name }), 'ERR_MALFORMED_PAYLOAD'],
    ['replays a page', () => JSON.stringify({ total: 9, entries: [entry(1)], next: entry(1).name }), 'ERR_MALFORMED_PAYLOAD'],
    ['oversize', () => JSON.stringify({ total: 1, entries: [], pad: 'x'.repeat(MAX_CONTROL_REPLY) }), 'ERR_FRAME_TOO_LARGE']
  ]
  for (const [what, page, code] of cases) {
    const peer = await fakePeer(t, page)
    const err = await t.throwsAsync(collect(browsePeer({ host: '127.0.0.1', port: peer.port })))
    t.is((err as Error & { code?: string }).code, code, what)
    t.true(peer.requests() <= 2, `${what}: stopped at once`)
  }
})

test('a peer without BRWS in its CAPS (a legacy peer closes at once) is ERR_NO_BROWSE', async (t) => {
  const server = net.createServer((s) => s.destroy())
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const err = await t.throwsAsync(collect(browsePeer({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port })))
  t.is((err as Error & { code?: string }).code, 'ERR_NO_BROWSE')
})

test('p2ptube browse HOST:PORT --json lists the library with tags; --limit cuts and says where to go on', async (t) => {
  const holder = await startNode(t, { shares: [await musicShare(t)] })
  await holder.library.metadata!.idle()
  const all = spawnCli(t, ['browse', `127.0.0.1:${holder.port}`, '--json', '--page-size', '2'])
  t.is(await all.exited, 0, all.stderr())
  const entries = all.events.filter((e) => e.event === 'entry')
  t.is(entries.length, 6)
  t.like(
    entries.find((e) => e.name === 'Tacvba/Re/02.ogg'),
    { kind: 'audio', meta: { title: 'El Aparato', album: 'Re' } }
  )
  t.like(
    all.events.find((e) => e.event === 'done'),
    { listed: 6, total: 6, cut: false }
  )
  const some = spawnCli(t, ['browse', `127.0.0.1:${holder.port}`, '--json', '--limit', '3'])
  t.is(await some.exited, 0, some.stderr())
  t.like(
    some.events.find((e) => e.event === 'done'),
    { listed: 3, total: 6, cut: true, after: 'a.ogg' }
  )
})
