import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { commonPrefix, completePath } from '../../src/tui/complete.ts'
import { fit, formatAge, formatEta, progressBar } from '../../src/text/format.ts'
import { paneRects } from '../../src/tui/layout.ts'
import { addResult, initialState, setPeers, startSearch } from '../../src/tui/state.ts'
import { updateTransfer } from '../../src/tui/transfers-state.ts'
import { headerText } from '../../src/tui/views/bars.ts'
import { esc } from '../../src/tui/views/common.ts'
import { itemLines } from '../../src/tui/views/items.ts'
import { logLines, wrap } from '../../src/tui/views/log.ts'
import { peerLines } from '../../src/tui/views/peers.ts'
import { transferLines } from '../../src/tui/views/transfers.ts'
import { tempDir } from '../helpers/nodes.ts'

const plain = { color: false }
const strip = (s: string) => s.replace(/\{\/?[a-z-]+\}/g, '')

test('formatting helpers', (t) => {
  t.is(fit('abcdef', 4), 'abc~')
  t.is(fit('ab', 4, 'right'), '  ab')
  t.is(progressBar(0.5, 10), '#####-----')
  t.is(progressBar(2, 4), '####')
  t.is(formatEta(125), '2m05s')
  t.is(formatAge(0, 30_000), '30s')
  t.is(esc('{x}'), '{open}x{close}')
})

test('rows fit their pane width at 80 columns', (t) => {
  const s = initialState('127.0.0.1:1')
  startSearch(s, 'clip')
  addResult(s, { name: 'a very long file name that will not fit.mp4', size: 4_340_000, contentId: 'aa', kind: 'video', holder: '127.0.0.1:40001', legacy: false })
  addResult(s, { name: 'x.mp4', size: 4_340_000, contentId: 'aa', kind: 'video', holder: '127.0.0.1:40002', legacy: false })
  setPeers(s, [{ id: '127.0.0.1:40001', host: '127.0.0.1', port: 40001, source: 'bootstrap', lastSeen: 0 }])
  updateTransfer(s, 1, { name: 'clip.mp4', state: 'failed', size: 100, received: 50, holder: '127.0.0.1:40001', error: new Error('holder went away') }, 0)
  const rects = paneRects(80, 24)
  for (const [lines, w] of [
    [itemLines(s, rects.items.width - 2, 5, plain), rects.items.width - 2],
    [peerLines(s, rects.peers.width - 2, 5, 0, plain), rects.peers.width - 2],
    [transferLines(s, rects.transfers.width - 2, 5, plain), rects.transfers.width - 2]
  ] as Array<[string[], number]>) {
    for (const l of lines) t.true(strip(l).length <= w, `${strip(l)} (${strip(l).length} > ${w})`)
  }
  t.regex(itemLines(s, 200, 5, plain)[1]!, /2: 127\.0\.0\.1:40001, 127\.0\.0\.1:40002/)
  t.regex(transferLines(s, 78, 5, plain)[1]!, /\[####----\]\s+50%.*failed/)
  t.regex(headerText(s), /node 127\.0\.0\.1:1 {2}peers 1 {2}files 0/)
})

test('the panes tile the screen between the header and the bottom bars (playback, status, two footer lines)', (t) => {
  for (const [w, h] of [
    [80, 24],
    [100, 30],
    [200, 60]
  ] as const) {
    const r = paneRects(w, h)
    t.is(r.items.top, 1)
    t.is(r.log.top + r.log.height, h - 4)
    t.is(r.peers.width + r.log.width, w)
    t.is(r.transfers.top, r.items.top + r.items.height)
  }
})

test('path completion: unique directory gets a slash, several give the common prefix', async (t) => {
  const dir = await tempDir(t)
  await fs.mkdir(path.join(dir, 'videos'))
  await fs.writeFile(path.join(dir, 'clip-1.mp4'), '')
  await fs.writeFile(path.join(dir, 'clip-2.mp4'), '')
  t.deepEqual(await completePath(`${dir}/vi`), { value: `${dir}/videos/`, candidates: [] })
  t.deepEqual(await completePath(`${dir}/cl`), { value: `${dir}/clip-`, candidates: ['clip-1.mp4', 'clip-2.mp4'] })
  t.deepEqual(await completePath(`${dir}/zz`), { value: `${dir}/zz`, candidates: [] })
  t.deepEqual(await completePath('vi', dir), { value: 'videos/', candidates: [] })
  t.is(commonPrefix(['abc', 'abd']), 'ab')
})

test('log rows wrap long entries and end at the newest', (t) => {
  t.deepEqual(wrap('0123456789abcdefghijkl', 10, 2), ['0123456789', '  abcdefgh', '  ijkl'])
  const s = initialState()
  s.log.push({ at: 0, level: 'info', msg: 'x'.repeat(30) }, { at: 0, level: 'warn', msg: 'last' })
  const rows = logLines(s, 20, 10, plain)
  t.is(rows.length, 4)
  t.true(rows.every((r) => r.length === 20))
  t.regex(rows[3]!, /last/)
  t.is(logLines(s, 20, 2, plain).length, 2)
})
