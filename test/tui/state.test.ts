import test from 'ava'
import {
  addResult,
  cycleFocus,
  finishSearch,
  initialState,
  MAX_LOG,
  moveSelection,
  openPrompt,
  promptKey,
  pushLog,
  selectedItem,
  setLibrary,
  setPeers,
  startSearch,
  toggleListMode,
  visibleItems
} from '../../src/tui/state.ts'
import { tickRates, updateTransfer } from '../../src/tui/transfers-state.ts'

const peer = (port: number, source: 'bootstrap' | 'crawl' = 'bootstrap') => ({ id: `127.0.0.1:${port}`, host: '127.0.0.1', port, source, lastSeen: 1000 })

test('results from two holders of the same content id merge into one row with both holders', (t) => {
  const s = initialState('127.0.0.1:1')
  startSearch(s, 'clip')
  t.is(s.listMode, 'results')
  t.true(s.search.running)
  addResult(s, { name: 'a/clip.mp4', size: 10, contentId: 'aa', kind: 'video', holder: 'h1:1', legacy: false })
  addResult(s, { name: 'b/clip.mp4', size: 10, contentId: 'aa', kind: 'video', holder: 'h2:2', legacy: false })
  addResult(s, { name: 'b/clip.mp4', size: 10, contentId: 'aa', kind: 'video', holder: 'h2:2', legacy: false })
  addResult(s, { name: 'Song.ogg', size: null, contentId: null, kind: null, holder: 'old:3', legacy: true })
  t.is(s.results.length, 2)
  t.deepEqual(s.results[0]!.holders, ['h1:1', 'h2:2'])
  t.is(s.results[1]!.kind, 'audio', 'kind from the extension when a legacy peer gives none')
  t.is(s.results[1]!.key, 'legacy:Song.ogg')
  finishSearch(s)
  t.false(s.search.running)
  startSearch(s, 'other')
  t.is(s.results.length, 0, 'a new search clears the old results')
})

test('library rows, list switching and selection clamping', (t) => {
  const s = initialState()
  setLibrary(s, [
    { name: 'b.mp4', kind: 'video', size: 5, cid: 'c1' },
    { name: 'a.ogg', kind: 'audio', size: 3 }
  ])
  t.is(s.node.files, 2)
  t.deepEqual(
    visibleItems(s).map((r) => r.name),
    ['a.ogg', 'b.mp4']
  )
  t.deepEqual(s.library[0]!.holders, ['you'])
  moveSelection(s, 5)
  t.is(selectedItem(s)?.name, 'b.mp4', 'selection stops at the last row')
  moveSelection(s, -9)
  t.is(s.selected.items, 0)
  toggleListMode(s)
  t.is(s.listMode, 'results')
  t.is(selectedItem(s), undefined)
})

test('peers: sorted rows with address and source; removal keeps the selection in range', (t) => {
  const s = initialState()
  setPeers(s, [peer(3, 'crawl'), peer(2)])
  t.deepEqual(
    s.peers.map((p) => [p.id, p.address, p.source]),
    [
      ['127.0.0.1:2', '127.0.0.1:2', 'bootstrap'],
      ['127.0.0.1:3', '127.0.0.1:3', 'crawl']
    ]
  )
  s.focus = 'peers'
  moveSelection(s, 1)
  t.is(s.selected.peers, 1)
  setPeers(s, [peer(2)])
  t.is(s.selected.peers, 0)
})

test('transfers: progress, smoothed rate, ETA, done with path and sha256, failure reason', (t) => {
  const s = initialState()
  const snap = { name: 'x.mp4', state: 'downloading' as const, size: 1000, received: 0, holder: 'h:1' }
  updateTransfer(s, 1, snap, 0)
  t.is(s.transfers.length, 1)
  t.deepEqual(s.transfers[0]!.sources, ['h:1'])
  updateTransfer(s, 1, { ...snap, received: 100 }, 1000)
  t.is(s.transfers[0]!.rate, 100)
  t.is(s.transfers[0]!.etaSec, 9)
  updateTransfer(s, 1, { ...snap, received: 150 }, 1200)
  t.is(s.transfers[0]!.rate, 100, 'samples closer than 500 ms do not move the rate')
  updateTransfer(s, 1, { ...snap, received: 400 }, 2000)
  t.is(s.transfers[0]!.rate, 200, 'moving average of 100 and 300 B/s')
  updateTransfer(s, 1, { ...snap, state: 'done', received: 1000, result: { path: '/d/x.mp4', sha256: 'ab' } }, 2500)
  t.like(s.transfers[0], { state: 'done', path: '/d/x.mp4', sha256: 'ab', rate: 0, error: null })
  updateTransfer(s, 2, { ...snap, name: 'y.mp4', state: 'failed', error: new Error('SHA-256 mismatch') }, 3000)
  t.is(s.transfers[1]!.error, 'SHA-256 mismatch')
  t.is(s.selected.transfers, 1, 'a new transfer is selected')
})

test('rates come from byte counter deltas per second', (t) => {
  const s = initialState('', 0)
  tickRates(s, { bytesUp: 2000, bytesDown: 500 }, 2000)
  t.is(s.node.upRate, 1000)
  t.is(s.node.downRate, 250)
  tickRates(s, { bytesUp: 2000, bytesDown: 500 }, 3000)
  t.is(s.node.upRate, 0)
})

test('log is capped and a scrolled-up log stays on the same lines', (t) => {
  const s = initialState()
  for (let i = 0; i < MAX_LOG + 10; i++) pushLog(s, 'info', `line ${i}`)
  t.is(s.log.length, MAX_LOG)
  t.is(s.log[0]!.msg, 'line 10')
  s.focus = 'log'
  moveSelection(s, -3)
  t.is(s.logScroll, 3)
  pushLog(s, 'info', 'new')
  t.is(s.logScroll, 4)
  moveSelection(s, 10)
  t.is(s.logScroll, 0)
})

test('focus cycles through the panes both ways', (t) => {
  const s = initialState()
  const seen = [s.focus]
  for (let i = 0; i < 4; i++) {
    cycleFocus(s, 1)
    seen.push(s.focus)
  }
  t.deepEqual(seen, ['items', 'transfers', 'peers', 'log', 'items'])
  cycleFocus(s, -1)
  t.is(s.focus, 'log')
})

test('prompt editing: type, backspace, clear, submit, cancel, complete', (t) => {
  const s = initialState()
  openPrompt(s, 'search', 'Search')
  for (const ch of 'clip x') promptKey(s, ch, ch === ' ' ? 'space' : ch)
  t.is(s.prompt!.value, 'clip x')
  promptKey(s, undefined, 'backspace')
  promptKey(s, undefined, 'backspace')
  t.is(s.prompt!.value, 'clip')
  t.is(promptKey(s, undefined, 'left'), 'edit', 'keys without a character are ignored')
  t.is(s.prompt!.value, 'clip')
  t.is(promptKey(s, '\t', 'tab'), 'complete')
  t.is(promptKey(s, '\r', 'enter'), 'submit')
  t.is(promptKey(s, undefined, 'escape'), 'cancel')
  promptKey(s, undefined, 'C-u')
  t.is(s.prompt!.value, '')
})
