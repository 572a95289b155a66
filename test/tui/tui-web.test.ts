/**
 * The TUI takes the node's web page options (issue 13: "the TUI takes the node's options,
 * --http included"): --help lists them, the same usage checks apply, and `p2ptube tui --http 0`
 * serves the page over the TUI's node, its URL shown in the log pane. Also where the TUI saves a
 * fetch (issue 12: an album keeps its folder, as with the CLI).
 */
import test from 'ava'
import path from 'node:path'
import { fetchRequest } from '../../src/tui/browse-actions.ts'
import { spawnCli, tempDir } from '../helpers/nodes.ts'
import { alive, poll, startTui } from './tmux.ts'

test('p2ptube tui --help lists --http and --http-host', async (t) => {
  const p = spawnCli(t, ['tui', '--help'])
  t.is(await p.exited, 0)
  const help = p.events.map((e) => String(e.text ?? '')).join('\n')
  t.regex(help, /--http\s+serve a web page/)
  t.regex(help, /--http-host\s+address for --http/)
})

test('tui: --http with a LAN --http-host and --group is a usage error (loopback only), before any terminal check', async (t) => {
  const p = spawnCli(t, ['tui', '--data', await tempDir(t), '--http', '0', '--http-host', '0.0.0.0', '--group', path.join(await tempDir(t), 'none.json')])
  t.is(await p.exited, 2)
  t.regex(p.stderr(), /with --group the web page is served on this machine only/)
  const q = spawnCli(t, ['tui', '--data', await tempDir(t), '--http', '70000'])
  t.is(await q.exited, 2)
  t.regex(q.stderr(), /--http must be a port 0\.\.65535, got 70000/)
})

test('tui --http 0: the log pane shows the page URL, GET / answers 200 on loopback, q closes it', async (t) => {
  const args = ['tui', '--data', await tempDir(t, 'p2ptube-data'), '--downloads', await tempDir(t, 'p2ptube-dl'), '--stabilize', '0', '--http', '0']
  const tui = await startTui(t, args, { width: 160, height: 30 })
  const screen = await tui.waitFor(/web page at http:\/\/127\.0\.0\.1:\d+\//, 20_000)
  t.notRegex(screen, /login token/, 'loopback without a group: no login')
  const url = /web page at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(screen)![1]!
  const res = await fetch(url)
  t.is(res.status, 200)
  t.regex(await res.text(), /<html/i)
  await tui.keys('q')
  t.true(await poll(() => tui.dead(), 10_000), 'the TUI exits after q')
  t.is(await tui.exitStatus(), 0)
  t.false(alive(tui.pid))
  await t.throwsAsync(fetch(url), undefined, 'the page is closed with the TUI')
})

test('tui --http 0 --http-host 0.0.0.0: the log pane shows the login token; the page answers 401 without it, the login link logs in', async (t) => {
  const args = ['tui', '--data', await tempDir(t, 'p2ptube-data'), '--downloads', await tempDir(t, 'p2ptube-dl'), '--stabilize', '0', '--http', '0', '--http-host', '0.0.0.0']
  const tui = await startTui(t, args, { width: 250, height: 30 })
  const screen = await tui.waitFor(/web login token \(keep it private; a login lasts 12 h\): [A-Za-z0-9_-]{43}/, 20_000)
  const port = Number(/web page at http:\/\/[0-9.]+:(\d+)\/login\?token=/.exec(screen)![1])
  const token = /web login token [^:]+: ([A-Za-z0-9_-]{43})/.exec(screen)![1]!
  t.is((await fetch(`http://127.0.0.1:${port}/api/library`)).status, 401, 'no login, no library')
  const login = await fetch(`http://127.0.0.1:${port}/login?token=${token}`, { redirect: 'manual' })
  t.is(login.status, 303)
  await tui.keys('q')
  t.true(await poll(() => tui.dead(), 10_000), 'the TUI exits after q')
})

test('a TUI fetch keeps the album folder below the downloads folder, as the CLI does', (t) => {
  const row = { name: 'Tacvba/Re/01 - El Aparato.ogg', holders: ['10.0.0.2:9400', '10.0.0.3:9400'], contentId: 'ab'.repeat(32), size: 1234, legacy: false }
  const r = fetchRequest('/dl', row)
  t.is(r.dir, path.join('/dl', 'Tacvba', 'Re'))
  t.is(r.holder, '10.0.0.2:9400')
  t.deepEqual(r.holders, row.holders)
  t.is(fetchRequest('/dl', { ...row, name: 'clip.mp4' }).dir, '/dl', 'no folder in the name: the downloads folder')
  t.is(fetchRequest('/dl', { ...row, name: '../../etc/x.ogg' }).dir, path.join('/dl', 'etc'), 'never above the downloads folder')
})
