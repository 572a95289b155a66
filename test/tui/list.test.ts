/**
 * The TUI list (issue 12) and display widths (issue 13): natural order, filter (case and accents
 * ignored), sort keys with tags, the browse tree (artist → album → track, folders for video),
 * the play order of an album, and columns that stay aligned with CJK and emoji names.
 */
import test from 'ava'
import { browseLevel, filesUnder, listRows, matchesFilter, nextSortKey, type BrowseState } from '../../src/tui/list-state.ts'
import { addResult, clearFinished, initialState, jumpSelection, openPrompt, promptKey, setLibrary, startSearch, visibleItems, type ItemRow } from '../../src/tui/state.ts'
import { updateTransfer } from '../../src/tui/transfers-state.ts'
import { playbackText } from '../../src/tui/views/bars.ts'
import { displayWidth, fitCols } from '../../src/tui/views/common.ts'
import { itemLines } from '../../src/tui/views/items.ts'
import { transfersLabel } from '../../src/tui/views/transfers.ts'

const plain = { color: false }
const strip = (s: string) => s.replace(/\{\/?[a-z-]+\}/g, '')
const row = (name: string, meta?: ItemRow['meta'], kind = 'audio', size = 1000): ItemRow => ({ key: name, name, kind, size, holders: ['10.0.0.1:1'], contentId: name, legacy: false, meta })

test('natural order: track2 before track10, and the sort keys use the tags', (t) => {
  const s = initialState()
  setLibrary(s, [
    { name: 'track10.ogg', kind: 'audio', size: 10, meta: { artist: 'Beta', album: 'B', track: 1, durationMs: 1000 } },
    { name: 'track2.ogg', kind: 'audio', size: 30, meta: { artist: 'alpha', album: 'Z', track: 2, durationMs: 9000 } },
    { name: 'Track1.ogg', kind: 'audio', size: 20, meta: { artist: 'alpha', album: 'Z', track: 1, durationMs: 5000 } }
  ])
  t.deepEqual(
    visibleItems(s).map((r) => r.name),
    ['Track1.ogg', 'track2.ogg', 'track10.ogg']
  )
  s.sort = 'artist'
  t.deepEqual(
    visibleItems(s).map((r) => r.name),
    ['Track1.ogg', 'track2.ogg', 'track10.ogg'],
    'alpha (Z: 1, 2) then Beta'
  )
  s.sort = 'album'
  t.deepEqual(
    visibleItems(s).map((r) => r.name),
    ['track10.ogg', 'Track1.ogg', 'track2.ogg']
  )
  s.sort = 'duration'
  t.deepEqual(
    visibleItems(s).map((r) => r.name),
    ['track2.ogg', 'Track1.ogg', 'track10.ogg'],
    'longest first'
  )
  s.sort = 'size'
  t.is(visibleItems(s)[0]!.name, 'track2.ogg')
  t.is(nextSortKey('size'), 'name')
  const head = strip(itemLines(s, 100, 5, plain)[0]!)
  t.regex(head, /size\*/, 'the sorted column is marked')
  t.regex(strip(itemLines(s, 100, 5, plain)[1]!), /track2\.ogg\s+alpha\s+Z\s+0:09\s+audio/)
})

test('the filter matches name and tags, case and accents ignored, and keeps the selection in range', (t) => {
  t.true(matchesFilter(row('x.ogg', { artist: 'Café Tacvba' }), 'cafe'))
  t.true(matchesFilter(row('Ｃａｆｅ.ogg'), 'cafe'), 'NFKD folds fullwidth letters')
  t.true(matchesFilter(row('Cafe\u0301 noir.ogg'), 'café NOIR'), 'NFD name, NFC filter')
  t.false(matchesFilter(row('x.ogg', { artist: 'Café' }), 'cafe noir'))
  const s = initialState()
  startSearch(s, 'x')
  for (const n of ['a.ogg', 'b.ogg', 'café.ogg']) addResult(s, { name: n, size: 1, contentId: n, kind: 'audio', holder: 'h:1', legacy: false })
  s.filter = 'CAFE'
  t.deepEqual(
    visibleItems(s).map((r) => r.name),
    ['café.ogg']
  )
  s.filter = ''
  s.focus = 'items'
  jumpSelection(s, 'last')
  t.is(s.selected.items, 2)
  jumpSelection(s, 'first')
  t.is(s.selected.items, 0)
})

test('browse: tagged audio under artist → album, video under its folders; an album plays in track order', (t) => {
  const b: BrowseState = {
    peer: '10.0.0.1:1',
    path: [],
    loading: false,
    total: 5,
    cut: false,
    entries: [
      row('music/b.ogg', { artist: 'Ann', album: 'First', track: 10 }),
      row('music/a.ogg', { artist: 'Ann', album: 'First', track: 2 }),
      row('music/c.ogg', { artist: 'Ann', album: 'Second', track: 1 }),
      row('holiday/2024/beach.mp4', undefined, 'video'),
      row('loose.mp4', undefined, 'video')
    ]
  }
  const names = (rows: ItemRow[]) => listRows(rows, '', 'name').map((r) => r.name)
  t.deepEqual(names(browseLevel(b)), ['Ann/', 'holiday/', 'loose.mp4'])
  b.path = ['Ann']
  t.deepEqual(names(browseLevel(b)), ['First/', 'Second/'])
  b.path = ['Ann', 'First']
  t.deepEqual(names(browseLevel(b)), ['music/a.ogg', 'music/b.ogg'])
  b.path = ['holiday']
  t.deepEqual(names(browseLevel(b)), ['2024/'])
  t.deepEqual(
    filesUnder(b, ['Ann', 'First']).map((r) => r.name),
    ['music/a.ogg', 'music/b.ogg'],
    'track 2 before track 10'
  )
  t.is(filesUnder(b, ['Ann']).length, 3)
})

test('CJK and emoji names keep the columns aligned (display width, not string length)', (t) => {
  t.is(displayWidth('東京の夜.ogg'), 12)
  t.is(displayWidth('🎵 song'), 7)
  t.is(displayWidth('e\u0301'), 1)
  for (const name of ['東京の夜のとても長い名前.ogg', '🎵🎶 song with emoji.ogg', '한국어 노래.ogg', 'plain.ogg']) {
    for (const w of [5, 10, 17]) t.is(displayWidth(fitCols(name, w)), w, `${name} in ${w} columns`)
  }
  const s = initialState()
  startSearch(s, 'x')
  for (const n of ['東京の夜.ogg', '🎵 song.ogg', 'plain.ogg']) addResult(s, { name: n, size: 1000, contentId: n, kind: 'audio', holder: 'h:1', legacy: false })
  const lines = itemLines(s, 78, 6, plain).map(strip)
  const sizeCol = lines.slice(1).map((l) => displayWidth(l.slice(0, l.indexOf('1.00 kB'))))
  t.is(new Set(sizeCol).size, 1, `the size column starts at the same column on every row: ${sizeCol.join(', ')}`)
  for (const l of lines) t.is(displayWidth(l), 78)
})

test('prompt suggestion is replaced by typing; finished rows clear; the summary says who took files', (t) => {
  const s = initialState()
  openPrompt(s, 'rebuild', 'Rebuild', '10.0.0.9:4000', true)
  promptKey(s, '1', '1')
  t.is(s.prompt!.value, '1', 'typing replaced the pre-filled address')
  promptKey(s, '2', '2')
  t.is(s.prompt!.value, '12')
  updateTransfer(s, 1, { name: 'a', state: 'done', size: 1, received: 1, holder: 'h:1', result: { path: '/a', sha256: 'x' } })
  updateTransfer(s, 2, { name: 'b', state: 'downloading', size: 2, received: 1, holder: 'h:1' })
  updateTransfer(s, 3, { name: 'c', state: 'cancelled', size: 2, received: 1, holder: 'h:1' })
  t.is(clearFinished(s), 2)
  t.deepEqual(
    s.transfers.map((x) => x.name),
    ['b']
  )
  s.node.bytesDown = 12_000_000
  s.node.bytesUp = 4_200_000
  s.uploads.push({ peer: '10.0.0.5:9400', name: 'song.ogg', bytes: 100, at: 1000 })
  t.regex(transfersLabel(s, 1, 2000), /down 12\.0 MB {2}up 4\.20 MB {2}to 10\.0\.0\.5:9400 \(song\.ogg\)/)
  t.notRegex(transfersLabel(s, 1, 1000 + 10 * 60_000), /to 10\.0\.0\.5/, 'old uploads leave the summary')
})

test('the mpv bar follows mpv: loading, playing, error (never "playing" after an error), ended', (t) => {
  const s = initialState()
  t.regex(playbackText(s), /mpv: idle/)
  Object.assign(s.playback, { active: true, state: 'loading', title: 'a.ogg' })
  t.regex(playbackText(s), /opening a\.ogg/)
  Object.assign(s.playback, { state: 'playing', position: 1, duration: 2, volume: 80, queue: { index: 2, total: 5 } })
  t.regex(playbackText(s), /playing a\.ogg {2}0:01 \/ 0:02 {2}vol 80% {2}\[2\/5\]/)
  Object.assign(s.playback, { state: 'error', error: 'loading failed' })
  t.regex(playbackText(s), /mpv: error: loading failed \(a\.ogg\)/)
  t.notRegex(playbackText(s), /playing/)
  Object.assign(s.playback, { state: 'ended', error: '' })
  t.regex(playbackText(s), /finished a\.ogg/)
})
