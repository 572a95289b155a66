/**
 * The TUI in tmux (issues 12 and 13): add a peer with `c`, browse it (Enter on the peer:
 * artist → album → track), play an album with `P` as one gapless mpv queue (real headless mpv,
 * real Ogg tracks cut to a few seconds with `ffmpeg -c copy`), player keys (next, volume, stop);
 * the mpv bar after an mpv error; `q` asking while a transfer runs; `C` clearing finished rows;
 * CJK and emoji names with aligned columns; `/` filtering the list.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { displayWidth } from '../../src/tui/views/common.ts'
import { AUDIO_DIR, BIG_CLIP, shareWith, spawnCli, tempDir, type JsonProc } from '../helpers/nodes.ts'
import { alive, poll, startTui, type TuiPane } from './tmux.ts'

const run = promisify(execFile)
type T = Parameters<typeof tempDir>[0]

/** A real track cut to `seconds` (stream copied) at `dir/name`, with tags. */
async function track(dir: string, name: string, src: string, seconds: number, tags: Record<string, string> = {}): Promise<void> {
  await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true })
  const meta = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`])
  await run('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO_DIR, src), '-t', String(seconds), '-map_metadata', '-1', '-c', 'copy', ...meta, path.join(dir, name)])
}

async function holder(t: T, share: string, extra: string[] = []): Promise<{ proc: JsonProc; id: string }> {
  const proc = spawnCli(t, ['node', '--json', '--share', share, '--data', await tempDir(t, 'p2ptube-data'), '--stabilize', '0', ...extra])
  const ev = await proc.next('listening')
  await proc.next('indexed')
  return { proc, id: String(ev.id) }
}

async function tui(t: T, extra: string[] = [], opts: { width?: number; height?: number } = {}): Promise<TuiPane> {
  const args = ['tui', '--downloads', await tempDir(t, 'p2ptube-dl'), '--data', await tempDir(t, 'p2ptube-data'), '--timeout', '2', '--stabilize', '0', ...extra]
  const pane = await startTui(t, args, { width: opts.width ?? 100, height: opts.height ?? 30, env: { DISPLAY: '' } })
  await pane.waitFor(/listening as/)
  return pane
}

async function quit(t: T, pane: TuiPane): Promise<void> {
  await pane.keys('q')
  t.true(await poll(() => pane.dead(), 10_000), 'the TUI exits after q')
  t.is(await pane.exitStatus(), 0)
}

test('c adds a peer, Enter on it browses artist -> album -> tracks (track2 before track10), P plays the album in order; next, volume, stop', async (t) => {
  const share = await tempDir(t, 'p2ptube-share')
  const tags = (n: number) => ({ artist: 'Band', album: 'Record', track: String(n), title: `Song ${n}` })
  await track(share, 'rec/track10.ogg', 'track28.ogg', 4, tags(10))
  await track(share, 'rec/track2.ogg', 'track12.ogg', 4, tags(2))
  await track(share, 'rec/track1.ogg', 'track17.ogg', 4, tags(1))
  const h = await holder(t, share)
  const pane = await tui(t)

  // c: an empty prompt (nothing pre-filled to append to).
  await pane.keys('c')
  await pane.waitFor(/Add a peer: host:port/)
  await pane.type(h.id)
  await pane.keys('Enter')
  await pane.waitFor(new RegExp(`added ${h.id.replace(/\./g, '\\.')}: 1 new peer`))

  // Enter on the peers pane browses that peer.
  await pane.keys('Tab', 'Tab')
  await pane.waitFor(/\[ Peers \(1\) \]/)
  await pane.keys('Enter')
  await pane.waitFor(/3 files; Enter opens a folder/)
  // The holder reads tags after indexing: until then its entries sit in their folder (rec/).
  // B browses again; the artist row comes once the holder sends the tags.
  const byArtist = await poll(
    async () => {
      if (/>Band\/\s+dir/.test(await pane.capture())) return true
      await pane.keys('B')
      await pane.waitFor(/3 files; Enter opens a folder/)
      return false
    },
    20_000,
    500
  )
  t.true(byArtist, 'the browse view groups the tagged tracks by artist')
  let screen = await pane.capture()
  t.regex(screen, /Browse \S+ \/ \(1\)/)
  await pane.keys('Enter')
  await pane.waitFor(/>Record\/\s+dir/)
  await pane.keys('Enter')
  screen = await pane.waitFor(/rec\/track10\.ogg\s+Band\s+Record\s+0:04/)
  t.true(screen.indexOf('rec/track1.ogg') < screen.indexOf('rec/track2.ogg') && screen.indexOf('rec/track2.ogg') < screen.indexOf('rec/track10.ogg'), 'natural order')
  // Backspace: up to the album row; P on it plays the album.
  await pane.keys('BSpace')
  await pane.waitFor(/>Record\/\s+dir/)
  await pane.keys('P')
  await pane.waitFor(/mpv: playing rec\/track1\.ogg .*\[1\/3\]/, 20_000)
  const mpvPid = Number(/mpv \(pid (\d+)\) playing a queue of 3/.exec(await pane.waitFor(/playing a queue of 3/))?.[1])
  t.true(mpvPid > 0 && alive(mpvPid))
  // > next track, then the third follows on its own (prefetched, same mpv).
  await pane.keys('>')
  await pane.waitFor(/mpv: playing rec\/track2\.ogg .*\[2\/3\]/)
  await pane.keys('-')
  await pane.waitFor(/volume 90%/)
  await pane.waitFor(/vol 90%/)
  await pane.waitFor(/mpv: playing rec\/track10\.ogg .*\[3\/3\]/, 20_000)
  t.true(alive(mpvPid), 'one mpv for the whole queue')
  await pane.keys('S')
  await pane.waitFor(/mpv: idle/)
  t.true(await poll(() => !alive(mpvPid), 5000), 'S stopped mpv')
  await quit(t, pane)
})

test('after mpv fails the bar says error, not playing; q asks while a transfer runs; C clears finished rows', async (t) => {
  const mine = await tempDir(t, 'p2ptube-mine')
  // A file named .ogg that is no Ogg at all: mpv cannot open it.
  await fs.writeFile(path.join(mine, 'broken.ogg'), Buffer.alloc(64 * 1024, 7))
  const h = await holder(t, await shareWith(t, [BIG_CLIP]), ['--rate-limit', '200000'])
  const pane = await tui(t, ['--share', mine, '--peer', h.id])
  await pane.waitFor(/files 1/)
  await pane.keys('p')
  let screen = await pane.waitFor(/mpv: error: /, 15_000)
  t.notRegex(screen, /mpv: playing/)

  // A slow transfer: q asks, n goes back.
  await pane.keys('s')
  await pane.type('12-19-53')
  await pane.keys('Enter')
  await pane.waitFor(/1 result from 1 holder/)
  await pane.keys('Enter')
  await pane.waitFor(/downloading/)
  await pane.keys('q')
  await pane.waitFor(/1 transfer is running: quit anyway\? y \/ n/)
  await pane.keys('n')
  await pane.waitFor(/not quitting/)
  t.false(await pane.dead())
  // Cancel it, then C clears the finished row.
  await pane.keys('Tab', 'x')
  await pane.waitFor(/cancelled, resumable/)
  await pane.keys('C')
  screen = await pane.waitFor(/cleared 1 finished transfer/)
  t.regex(screen, /Transfers \(0 active, 0 total\)/)
  // Nothing runs now: q quits at once.
  await quit(t, pane)
})

test('80 columns: CJK and emoji names keep every row and border aligned; / filters the list as typed', async (t) => {
  const mine = await tempDir(t, 'p2ptube-mine')
  for (const [i, name] of ['東京の夜.ogg', '🎵 song.ogg', 'plain.ogg', '한국어 노래.ogg'].entries()) await track(mine, name, ['track12.ogg', 'track28.ogg', 'track17.ogg', 'track12.ogg'][i]!, 2)
  const pane = await tui(t, ['--share', mine], { width: 80, height: 30 })
  await pane.waitFor(/files 4/)
  let screen = await pane.waitFor((s) => s.includes('東京の夜.ogg') && s.includes('🎵 song.ogg') && s.includes('한국어 노래.ogg'))
  const rows = screen.split('\n').filter((l) => /\.ogg/.test(l) && l.startsWith('│'))
  t.is(rows.length, 4)
  for (const l of rows) t.is(displayWidth(l), 80, `row is 80 columns wide: ${l}`)
  const at = rows.map((l) => displayWidth(l.slice(0, l.indexOf('audio'))))
  t.is(new Set(at).size, 1, `the kind column starts at one column on every row: ${at.join(', ')}`)
  // / filters as it is typed (accents and case ignored); Esc clears it.
  await pane.keys('/')
  await pane.type('SONG')
  screen = await pane.waitFor(/Library \(1 of 4\) {2}filter "SONG"/)
  t.notRegex(screen, /plain\.ogg/)
  await pane.keys('Escape')
  await pane.waitFor(/Library \(4\)/)
  // End / Home move to the last / first row.
  const oggRows = (scr: string) => scr.split('\n').filter((l) => /\.ogg/.test(l) && l.startsWith('│'))
  await pane.keys('End')
  await pane.waitFor((scr) => oggRows(scr).at(-1)?.startsWith('│>') === true)
  await pane.keys('Home')
  await pane.waitFor((scr) => oggRows(scr)[0]?.startsWith('│>') === true)
  await quit(t, pane)
})
