/**
 * The CLI for daily use (issue #13), with real `p2ptube` child processes: the bundle runs and
 * finds its version; usage errors exit 2 (a word for a number, a bad unit, an unknown command
 * named with the nearest one); search prints one row per content with its holder count, short
 * ids (whole with -l) and no status lines without -v; a peer that never answers (an HTTP server)
 * fails within --timeout; Ctrl-C ends a fetch without an error line; a holder that disappears
 * is tried again, then exit 3 with the partial kept.
 */
import test from 'ava'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { commandsFor } from '../../src/cli/main.ts'
import { cutToWidth, displayWidth, table } from '../../src/cli/columns.ts'
import { parseSize } from '../../src/cli/units.ts'
import { BIG_CLIP, contentIdFile, shareWith, SMALL_CLIP, spawnCli, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'

const text = (p: ReturnType<typeof spawnCli>): string[] => p.events.map((e) => String(e.text ?? JSON.stringify(e)))

/** A `p2ptube node` sharing `share`; resolves with its address once it has indexed. */
async function holder(t: Parameters<typeof spawnCli>[0], share: string, extra: string[] = []) {
  const p = spawnCli(t, ['node', '--json', '--share', share, '--data', await tempDir(t), '--stabilize', '0', ...extra])
  const l = await p.next('listening')
  await p.next((e) => e.event === 'indexed' && Number(e.files) > 0)
  return { p, id: `127.0.0.1:${String(l.port)}` }
}

test('commandsFor: --version loads no command, a command loads itself only, no command the TUI, a stray word all (to list them)', (t) => {
  t.deepEqual([...commandsFor(['--version'])], [])
  t.deepEqual([...commandsFor(['fetch', 'x', '--play'])], ['fetch'])
  t.deepEqual([...commandsFor(['--json'])], ['tui'])
  t.true(commandsFor(['--help']).size > 5)
})

test('units and display widths: 1M, 1.5k, 2MB/s, 1Mi; a bad unit is a usage error; CJK cut by cells', (t) => {
  t.is(parseSize('1M', 'x'), 1_000_000)
  t.is(parseSize('1.5k', 'x'), 1500)
  t.is(parseSize('2MB/s', 'x'), 2_000_000)
  t.is(parseSize('1Mi', 'x'), 1_048_576)
  t.is(parseSize('800000', 'x'), 800_000)
  t.is(t.throws(() => parseSize('1Q', 'rate-limit'))?.message.includes('--rate-limit'), true)
  t.is(displayWidth('日本語'), 6)
  t.is(cutToWidth('日本語の名前', 7), '日本語…')
  const rows = table(
    [
      { header: 'NAME', flex: true },
      { header: 'SIZE', align: 'right' }
    ],
    [
      ['日本語の名前.mp4', '1 kB'],
      ['a.mp4', '10 kB']
    ],
    { header: true, maxWidth: 20 }
  )
  for (const r of rows) t.true(displayWidth(r) <= 20, r)
  t.true(rows[1]!.includes('…'), 'the long name is cut')
  t.is(displayWidth(rows[1]!), displayWidth(rows[2]!), 'columns aligned by display width')
})

test('usage errors exit 2: a word for a number, a bad unit, an unknown command (with the nearest one)', async (t) => {
  const nan = spawnCli(t, ['search', 'x', '--timeout', 'abc', '--peer', '127.0.0.1:9'])
  t.is(await nan.exited, 2)
  t.regex(nan.stderr(), /--timeout takes a number/)
  const unit = spawnCli(t, ['fetch', 'x', '--rate-limit', '1Q', '--peer', '127.0.0.1:9'])
  t.is(await unit.exited, 2)
  t.regex(unit.stderr(), /--rate-limit takes a number of bytes/)
  const typo = spawnCli(t, ['serch', 'x'])
  t.is(await typo.exited, 2)
  t.regex(typo.stderr(), /unknown command `serch`; did you mean `search`\?/)
  const version = spawnCli(t, ['--version'])
  t.is(await version.exited, 0)
  t.deepEqual(text(version), [JSON.parse(await fs.readFile(new URL('../../package.json', import.meta.url), 'utf8')).version])
})

test('search: one row per content with its holder count and a 12-digit id (whole with -l); status lines only with -v', async (t) => {
  const a = await holder(t, await shareWith(t, [BIG_CLIP, SMALL_CLIP]), ['--rate-limit', '1M'])
  const b = await holder(t, await shareWith(t, [BIG_CLIP]))
  const cid = await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP))
  // Each holder is joined directly, so both answers come back whatever the overlay looks like.
  const quiet = spawnCli(t, ['search', 'lebiniou', '--peer', a.id, '--peer', b.id, '--timeout', '5'])
  t.is(await quiet.exited, 0, quiet.stderr())
  const rows = text(quiet)
  t.is(rows.length, 2, rows.join('\n'))
  const big = rows.find((r) => r.startsWith(BIG_CLIP))
  t.truthy(big, rows.join('\n'))
  t.regex(big!, new RegExp(`\\s2\\s+${cid.slice(0, 12)}(\\s|$)`), 'two holders, one row, the short id')
  t.false(big!.includes(cid), 'not the whole id')
  t.false(/listening as/.test(quiet.stderr()), quiet.stderr())
  const long = spawnCli(t, ['search', 'lebiniou', '--peer', a.id, '--peer', b.id, '--timeout', '5', '-l', '-v'])
  t.is(await long.exited, 0, long.stderr())
  const bigLong = text(long).find((r) => r.startsWith(BIG_CLIP))
  t.true(bigLong?.includes(cid), 'the whole id with -l')
  t.true(bigLong?.includes(a.id) && bigLong.includes(b.id), 'and the holders')
  t.regex(long.stderr(), /listening as/, 'status lines with -v')
})

test('a wrong port: an HTTP server is named at once; a server that never answers fails within --timeout, saying so', async (t) => {
  const web = http.createServer((_, res) => res.end('hello'))
  const silent = net.createServer((s) => s.on('error', () => {})) // accepts, reads, never answers
  for (const server of [web, silent]) {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.teardown(() => {
      if (server instanceof http.Server) server.closeAllConnections()
      server.close()
    })
  }
  const port = (s: net.Server): number => (s.address() as net.AddressInfo).port
  const p = spawnCli(t, ['search', 'x', '--peer', `127.0.0.1:${port(web)}`, '--timeout', '1'])
  t.is(await p.exited, 1)
  t.regex(p.stderr(), /unexpected message type HTTP/)
  const q = spawnCli(t, ['search', 'x', '--peer', `127.0.0.1:${port(silent)}`, '--timeout', '1'])
  t.is(await q.exited, 1)
  t.regex(q.stderr(), /no p2ptube answer within 1 s \(--timeout\)/)
})

test('Ctrl-C during a fetch: exit 130, the partial kept, no error line', async (t) => {
  const h = await holder(t, await shareWith(t, [BIG_CLIP]), ['--rate-limit', '300k'])
  const out = await tempDir(t)
  const cid = await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP))
  const f = spawnCli(t, ['fetch', cid, '--peer', h.id, '--out', out, '--json'])
  await f.next('progress')
  f.child.kill('SIGINT')
  t.is(await f.exited, 130)
  t.false(
    f.events.some((e) => e.event === 'error'),
    JSON.stringify(f.events.filter((e) => e.event === 'error'))
  )
  t.true(f.events.some((e) => e.event === 'log' && String(e.msg).includes('partial download is kept')))
  t.true(existsSync(path.join(out, `${BIG_CLIP}.p2ptube-part`)))
})

test('a holder that disappears is tried again with back-off, then exit 3 saying the partial is kept', async (t) => {
  const h = await holder(t, await shareWith(t, [BIG_CLIP]), ['--rate-limit', '300k'])
  const out = await tempDir(t)
  const cid = await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP))
  const f = spawnCli(t, ['fetch', cid, '--peer', h.id, '--out', out, '--json'])
  await f.next('progress')
  h.p.child.kill('SIGKILL')
  t.is(await f.exited, 3)
  const retries = f.events.filter((e) => e.event === 'log' && /trying again in \d+ s \(\d of 3\)/.test(String(e.msg)))
  t.is(retries.length, 3, JSON.stringify(f.events.slice(-6)))
  const err = f.events.find((e) => e.event === 'error')
  t.is(err?.code, 'ERR_NO_SOURCES')
  t.regex(String(err?.message), /partial download is kept/)
  t.true(existsSync(path.join(out, `${BIG_CLIP}.p2ptube-part`)))
})
