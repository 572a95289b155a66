/**
 * Terminal escape injection (issue #11 item 4): names and ERRO texts from peers reach the CLI,
 * the TUI and logs with every C0, DEL and C1 control (U+009B CSI included), line separator and
 * bidi control written as a visible escape. Real processes: a `search` whose results carry an
 * OSC title, a clear screen, a newline that forges a result line and U+009B; a scripted node
 * whose fetch gets an ERRO with NUL, ESC and U+009B from a forged holder.
 */
/* eslint-disable no-control-regex -- these tests look for control characters */
import test from 'ava'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { Writable } from 'node:stream'
import { Output } from '../../src/cli/output.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { safeJson, safeSgrText, safeText } from '../../src/text/safe-text.ts'
import { fit } from '../../src/text/format.ts'
import { addResult, initialState, pushLog, startSearch } from '../../src/tui/state.ts'
import { itemLines } from '../../src/tui/views/items.ts'
import { logLines } from '../../src/tui/views/log.ts'
import { esc } from '../../src/tui/views/common.ts'
import { SMALL_CLIP, spawnCli, startNode, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'

/** Names a hostile peer shares (all legal Linux file names). */
const OSC_TITLE = 'title\u001b]0;pwned\u0007.mp4'
const CLEAR = 'clear\u001b[2J\u001b[H.mp4'
const FORGED = 'forged\nfake.mp4  9.99 GB  6.6.6.6:666  deadbeef.mp4'
const CSI = 'csi\u009b31mred\u009b0m.mp4'
const BIDI = 'bidi\u202egpm.exe.mp4'
const EVIL_NAMES = [OSC_TITLE, CLEAR, FORGED, CSI, BIDI]

/** Any character a terminal may act on, besides the newline ending a line. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

function sink(tty = false): Writable & { text: string; isTTY: boolean } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk)
      cb()
    }
  }) as Writable & { text: string; isTTY: boolean }
  w.text = ''
  w.isTTY = tty
  return w
}

test('safeText escapes C0, DEL, C1 (U+009B), separators and bidi controls; safeSgrText keeps only SGR; safeJson keeps the value', (t) => {
  t.is(safeText(OSC_TITLE), 'title\\x1b]0;pwned\\x07.mp4')
  t.is(safeText('a\u0000b\u007fc\u009bd\u0085e\r\n'), 'a\\x00b\\x7fc\\u009bd\\u0085e\\x0d\\x0a')
  t.is(safeText(BIDI), 'bidi\\u202egpm.exe.mp4')
  t.is(safeText(safeText(CLEAR)), safeText(CLEAR), 'idempotent')
  t.is(safeText('ordinary été 東京 {x}.mp4'), 'ordinary été 東京 {x}.mp4', 'printable text is untouched')
  t.is(safeSgrText('\u001b[1mbold\u001b[22m \u001b]0;x\u0007 \u001b[2J'), '\u001b[1mbold\u001b[22m \\x1b]0;x\\x07 \\x1b[2J')
  const line = safeJson({ name: CSI, nul: '\u0000' })
  t.false(CONTROL.test(line))
  t.deepEqual(JSON.parse(line), { name: CSI, nul: '\u0000' }, 'a JSON reader gets the same value')
  t.false(CONTROL.test(fit(CLEAR, 12)))
  t.is(fit(CLEAR, 100).length, 100, 'escaped before fitting: the column keeps its width')
})

test('Output: lines, logs, errors and progress carry no control from remote text, colours on a TTY stay', (t) => {
  const out = sink(true)
  const err = sink(true)
  const o = new Output(false, out, err, {}, () => {})
  for (const n of EVIL_NAMES) o.line(`${o.color.bold(n)}  1 MB`)
  o.info(`fetching ${OSC_TITLE}`)
  o.error(`ERR_REMOTE: bad\u0000\u001b[2J\u009b`)
  o.progress(CLEAR)
  t.is(out.text.split('\n').length - 1, EVIL_NAMES.length, 'one line per result: no forged line')
  t.false(CONTROL.test(out.text.replace(/\u001b\[[0-9;]*m/g, '')), JSON.stringify(out.text))
  t.true(out.text.includes('\u001b[1m'), 'our own bold survives')
  t.false(CONTROL.test(err.text.replace(/\u001b\[[0-9;]*[mK]/g, '').replace(/\r/g, '')), JSON.stringify(err.text))
  const j = sink()
  new Output(true, j, sink(), {}, () => {}).event('result', { name: CSI })
  t.false(CONTROL.test(j.text.trimEnd()))
})

test('TUI: result rows and log lines from hostile names hold no control and no blessed tag', (t) => {
  const s = initialState('me:1')
  startSearch(s, 'x')
  for (const [i, n] of EVIL_NAMES.entries()) addResult(s, { name: `{red-fg}${n}`, size: 1000, contentId: String(i).repeat(64), kind: 'video', holder: '127.0.0.1:1', legacy: false })
  pushLog(s, 'warn', `peer said: ${FORGED}\u009b2J`)
  const rows = [...itemLines(s, 78, 20, { color: false }), ...logLines(s, 78, 10, { color: false })]
  for (const r of rows) t.false(CONTROL.test(r), JSON.stringify(r))
  t.false(rows.join('\n').includes('{red-fg}'), 'a name cannot set a colour')
  t.is(esc('\u001b{'), '\\x1b{open}')
})

test('p2ptube search: results named with an OSC title, clear screen, forged newline and U+009B print one inert line each', async (t) => {
  const share = await tempDir(t, 'p2ptube-share')
  const clip = await fs.readFile(path.join(VIDEO_DIR, SMALL_CLIP))
  for (const [i, n] of EVIL_NAMES.entries()) await fs.writeFile(path.join(share, n), Buffer.concat([clip, Buffer.from([i])]))
  const seeder = await startNode(t, { shares: [share] })
  t.is(seeder.library.size, EVIL_NAMES.length)
  const p = spawnCli(t, ['search', 'mp4', '--peer', seeder.id, '--timeout', '5'])
  t.is(await p.exited, 0)
  const stdout = p.events.map((e) => String(e.text ?? JSON.stringify(e)))
  t.is(stdout.length, EVIL_NAMES.length, stdout.join('\n'))
  for (const l of stdout) t.false(CONTROL.test(l), JSON.stringify(l))
  t.true(
    stdout.some((l) => l.startsWith('forged\\x0afake.mp4')),
    'the forged line is one escaped name'
  )
  t.true(stdout.some((l) => l.startsWith('csi\\u009b31mred')))
  t.false(CONTROL.test(p.stderr()))
})

test('p2ptube node --json: an ERRO text with NUL, ESC and U+009B from a forged holder is reported escaped, the node goes on', async (t) => {
  const evil = 'ERR_NOT_FOUND: gone\u0000\u001b]0;pwned\u0007\u009b2J\nforged line'
  const sockets = new Set<net.Socket>()
  const holder = net.createServer((s) => {
    sockets.add(s)
    s.once('data', () => s.end(encodeFrame('ERRO', evil)))
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    holder.close()
  })
  const { port } = holder.address() as net.AddressInfo
  const p = spawnCli(t, ['node', '--json', '--data', await tempDir(t), '--downloads', await tempDir(t)])
  let stdout = ''
  p.child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
  await p.next('listening')
  p.send({ id: 1, cmd: 'fetch', contentId: 'ab'.repeat(32), name: 'x.mp4', size: 1000, holder: `127.0.0.1:${port}` })
  const e = await p.next((x) => x.event === 'error' && x.id === 1)
  t.regex(String(e.message), /gone/)
  t.true(String(e.message).includes('\u009b'), 'the value is kept for a JSON reader')
  t.false(CONTROL.test(stdout), 'the bytes on stdout hold no raw control (JSON escapes C1 too)')
  t.is(stdout.split('\n').filter(Boolean).length, p.events.length, 'no forged line')
  p.send({ id: 2, cmd: 'stats' })
  await p.next((x) => x.event === 'stats' && x.id === 2)
  p.send({ cmd: 'quit' })
  t.is(await p.exited, 0)
})
