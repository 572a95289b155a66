/**
 * The real TUI in tmux against real `p2ptube node --json` processes: share, search (results from
 * two holders), fetch (SHA-256 checked), remove a peer, rebuild, refresh, quit with nothing left
 * behind; play with headless mpv; 80×24, resize, NO_COLOR; no TTY.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { AUDIO_DIR, BIG_CLIP, sha256File, shareWith, spawnCli, tempDir, VIDEO_DIR, type JsonProc } from '../helpers/nodes.ts'
import { alive, poll, startTui, type TuiPane } from './tmux.ts'

async function holder(t: Parameters<typeof tempDir>[0], share: string, extra: string[] = []): Promise<{ proc: JsonProc; id: string }> {
  const proc = spawnCli(t, ['node', '--json', '--share', share, '--data', await tempDir(t, 'p2ptube-data'), '--stabilize', '0', ...extra])
  const ev = await proc.next('listening')
  await proc.next('indexed')
  return { proc, id: String(ev.id) }
}

async function tuiArgs(t: Parameters<typeof tempDir>[0], peers: string[]): Promise<{ args: string[]; downloads: string }> {
  const downloads = await tempDir(t, 'p2ptube-dl')
  const args = ['tui', '--downloads', downloads, '--data', await tempDir(t, 'p2ptube-data'), '--timeout', '2', '--stabilize', '0', ...peers.flatMap((p) => ['--peer', p])]
  return { args, downloads }
}

async function quitAndCheck(t: Parameters<typeof tempDir>[0], tui: TuiPane, extraPids: number[] = []): Promise<void> {
  await tui.keys('q')
  // A transfer still running: q asks first, y confirms.
  const asked = await poll(async () => (await tui.dead()) || (await tui.capture()).includes('quit anyway?'), 10_000)
  if (asked && !(await tui.dead())) await tui.keys('y')
  t.true(await poll(() => tui.dead(), 10_000), 'the TUI exits after q')
  t.is(await tui.exitStatus(), 0)
  t.false(alive(tui.pid), `TUI process ${tui.pid} is gone`)
  for (const pid of extraPids) t.false(alive(pid), `child process ${pid} is gone`)
}

test('share, search two holders, fetch with SHA-256, remove a peer, rebuild, refresh, quit', async (t) => {
  // Rate-limited holders so the transfer lasts a few seconds on screen.
  const a = await holder(t, await shareWith(t, [BIG_CLIP]), ['--rate-limit', '1000000'])
  const b = await holder(t, await shareWith(t, [BIG_CLIP]), ['--rate-limit', '1000000'])
  const { args, downloads } = await tuiArgs(t, [a.id, b.id])
  // Wide enough for both holder ids beside the metadata columns.
  const tui = await startTui(t, args, { width: 190, height: 30 })
  await tui.waitFor(/peers 2 {2}files 0/)

  // Add a share through the path prompt, with Tab completion of "audi" → "audio/".
  const mine = await tempDir(t, 'p2ptube-mine')
  await fs.mkdir(path.join(mine, 'audio'))
  await fs.copyFile(path.join(AUDIO_DIR, (await fs.readdir(AUDIO_DIR)).find((f) => f.endsWith('.ogg')) as string), path.join(mine, 'audio', 'My Song.ogg'))
  await tui.keys('a')
  await tui.waitFor(/Share a folder or file/)
  await tui.type(`${mine}/audi`)
  await tui.keys('Tab')
  await tui.waitFor((s) => s.includes(`${mine}/audio/`.slice(-40)))
  await tui.keys('Enter')
  let screen = await tui.waitFor(/shared 1 new file/)
  t.regex(screen, /files 1/)
  t.regex(screen, /My Song\.ogg\s+(\d+:\d\d\s+)?audio/)

  // Search: one row, two holders.
  await tui.keys('s')
  await tui.type('12-19-53')
  await tui.keys('Enter')
  screen = await tui.waitFor(/1 result from 2 holders/)
  t.regex(screen, new RegExp(`2: (${a.id}, ${b.id}|${b.id}, ${a.id})`))
  t.regex(screen, /lebiniou-2021-06-10_12-19-53\.mp4\s+(0:10\s+)?video\s+4\.34 MB/)

  // Fetch: watch the transfer run, then reach done with the right SHA-256.
  await tui.keys('Enter')
  // A third of the way in, so the rates have been sampled.
  screen = await tui.waitFor(/\[#{4,}-+\]\s+\d+%.*downloading/)
  t.log(`capture-pane during the transfer:\n${screen}`)
  t.regex(screen, /ETA|eta/)
  t.regex(screen, /fetching lebiniou-2021-06-10_12-19-53\.mp4 from 2 holders/)
  t.regex(screen, /2 holders\s+downloading/, 'the transfer row shows both holders in use')
  screen = await tui.waitFor(/done: lebiniou-2021-06-10_12-19-53\.mp4: SHA-256 matches the content id; saved to/, 20_000)
  t.regex(screen, /\[#+\]\s+100%.*done/)
  const file = path.join(downloads, BIG_CLIP)
  t.is(await sha256File(file), await sha256File(path.join(VIDEO_DIR, BIG_CLIP)))

  // Open from the transfers pane: the saved path on the status line.
  await tui.keys('Tab')
  await tui.waitFor(/\[ Transfers/)
  await tui.keys('o')
  await tui.waitFor(new RegExp(`> lebiniou-2021-06-10_12-19-53\\.mp4: ${downloads.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').slice(0, 30)}`))

  // Remove the selected peer (Tab: items → transfers → peers).
  await tui.keys('Tab')
  await tui.waitFor(/\[ Peers \(2\) \]/)
  const first = [a.id, b.id].sort()[0] as string
  const second = [a.id, b.id].sort()[1] as string
  await tui.keys('d')
  screen = await tui.waitFor(new RegExp(`removed peer ${first.replace(/\./g, '\\.')}`))
  t.regex(screen, /peers 1 /)

  // Rebuild from the removed peer (the prompt is prefilled with the selected peer: clear it).
  await tui.keys('b')
  await tui.waitFor(/Rebuild the peer list/)
  await tui.keys('C-u')
  await tui.type(first)
  await tui.keys('Enter')
  screen = await tui.waitFor(/rebuilt from .*: 1 new peer, 2 in total/)
  t.regex(screen, /peers 2 /)

  // Refresh after one holder died without a word: it is dropped.
  const other = first === a.id ? b : a
  other.proc.child.kill('SIGKILL')
  await other.proc.exited
  // Its neighbour link (PROTOCOL.md §4.10) closing may have dropped it already; else the refresh does.
  await tui.keys('r')
  screen = await tui.waitFor(/refresh: 1 of 2 peers alive, dropped|refresh: 1 of 1 peers alive/)
  t.regex(screen, /peers 1 /)
  t.true(screen.includes(second) || screen.includes(first))

  // Quit: the remaining holder hears QUIT (drops the TUI's node), no process left behind.
  const survivor = first === a.id ? a : b
  await quitAndCheck(t, tui)
  await survivor.proc.next((e) => e.event === 'peer-removed', 5000)
  t.pass()
})

test('play while downloading in headless mpv: position, pause, seek; q closes mpv', async (t) => {
  const a = await holder(t, await shareWith(t, [BIG_CLIP]), ['--rate-limit', '1500000'])
  const { args } = await tuiArgs(t, [a.id])
  const tui = await startTui(t, args, { width: 100, height: 30, env: { DISPLAY: '' } })
  await tui.waitFor(/peers 1 /)
  await tui.keys('s')
  await tui.type('12-19-53')
  await tui.keys('Enter')
  await tui.waitFor(/1 result from 1 holder/)
  await tui.keys('p')
  const screen = await tui.waitFor(/mpv: playing lebiniou-2021-06-10_12-19-53\.mp4\s+0:0\d \/ 0:10/, 15_000)
  const mpvPid = Number(/mpv \(pid (\d+)\)/.exec(screen)?.[1])
  t.true(mpvPid > 0 && alive(mpvPid))
  await tui.keys('Space')
  await tui.waitFor(/mpv: paused/)
  await tui.keys('Right')
  await tui.waitFor(/seek \+5 s: at \d/)
  await tui.keys('Space')
  await tui.waitFor(/mpv: playing/)
  await quitAndCheck(t, tui, [mpvPid])
})

test('cancel a transfer, resume it, and see a failure with its reason when the holder dies', async (t) => {
  const a = await holder(t, await shareWith(t, [BIG_CLIP]), ['--rate-limit', '300000'])
  const { args } = await tuiArgs(t, [a.id])
  const tui = await startTui(t, args, { width: 100, height: 30 })
  await tui.waitFor(/peers 1 /)
  await tui.keys('s')
  await tui.type('12-19-53')
  await tui.keys('Enter')
  await tui.waitFor(/1 result from 1 holder/)
  await tui.keys('Enter')
  await tui.waitFor(/\[#+-+\]\s+\d+%.*downloading/)
  await tui.keys('Tab', 'x')
  await tui.waitFor(/cancelled, resumable/)
  await tui.keys('BTab', 'Enter')
  let screen = await tui.waitFor(/Transfers \(1 active, 2 total\)/)
  t.regex(screen, /resuming|downloading/)
  a.proc.child.kill('SIGKILL')
  screen = await tui.waitFor(/> lebiniou-2021-06-10_12-19-53\.mp4: failed: \S+/, 15_000)
  t.regex(screen, /\d+%.*failed: \S+/, 'the transfer row shows the reason too')
  await quitAndCheck(t, tui)
})

test('80x24 with NO_COLOR: footer, help, no colour codes, resize, Ctrl-C quits', async (t) => {
  const { args } = await tuiArgs(t, [])
  const tui = await startTui(t, args, { width: 80, height: 24, env: { NO_COLOR: '1' } })
  let screen = await tui.waitFor(/listening as/)
  const lines = screen.split('\n')
  t.regex(lines[0] as string, /^p2ptube {2}node [0-9a-f.:[\]]+:\d+ {2}peers 0 {2}files 0/)
  t.regex(lines[22] as string, /^\?:help q:quit a:add s:search \/:filter Enter:act/)
  t.regex(lines[23] as string, /^(O:sort r:refresh|Space:pause S:stop)/, 'the footer has two lines')
  t.true(lines.every((l) => [...l].length <= 80))
  t.regex(screen, /┌─\[ Library \(0\)/)
  // No colour: no SGR colour parameters (30-37, 40-47, 90-97, 38;/48;) anywhere.
  const esc = await tui.captureEscapes()
  // eslint-disable-next-line no-control-regex -- ESC is what is looked for
  t.notRegex(esc, /\x1b\[[0-9;]*(3[0-7]|4[0-7]|9[0-7]|38;|48;)[0-9;]*m/)
  // Every key gives feedback, even an unbound one.
  await tui.keys('Z')
  await tui.waitFor(/Z: no such key/)
  await tui.keys('x')
  await tui.waitFor(/no transfer selected/)
  await tui.keys('?')
  screen = await tui.waitFor(/Help: keys/)
  t.regex(screen, /Space Left Right\s+pause \/ resume; Left \/ Right: seek 5 s/)
  t.regex(screen, /S > - \+\s+stop mpv \/ next track \/ volume down, up/)
  await tui.keys('Escape')
  await tui.waitFor((s) => !s.includes('Help: keys'))
  await tui.resize(120, 40)
  screen = await tui.waitFor((s) => (s.split('\n')[38] ?? '').startsWith('?:help') && /Tab:pane/.test(s) && /Left\/Right:seek/.test(s))
  t.regex(screen.split('\n')[1] as string, /^┌.*┐$/)
  t.is([...(screen.split('\n')[1] as string)].length, 120)
  await tui.keys('C-c')
  t.true(await poll(() => tui.dead(), 10_000))
  t.is(await tui.exitStatus(), 0)
  t.false(alive(tui.pid))
})

test('not a TTY: a clear message and exit 2, no crash', async (t) => {
  const p = spawnCli(t, ['tui', '--data', await tempDir(t)])
  t.is(await p.exited, 2)
  t.regex(p.stderr(), /p2ptube tui needs a terminal: stdout is not a TTY/)
  const q = spawnCli(t, ['--data', await tempDir(t)])
  t.is(await q.exited, 2, 'no command = tui')
  t.regex(q.stderr(), /needs a terminal/)
})
