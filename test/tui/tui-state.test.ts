/**
 * The TUI keeps its state (src/app/state.ts): a folder shared with `a` is shared again after a
 * restart, with no flag. Real TUI in tmux.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { shareWith, SMALL_CLIP, tempDir } from '../helpers/nodes.ts'
import { poll, startTui } from './tmux.ts'

test('a share added with `a` is there again after quitting and starting the TUI again', async (t) => {
  const data = await tempDir(t, 'p2ptube-data')
  const share = await shareWith(t, [SMALL_CLIP])
  const args = ['tui', '--data', data, '--downloads', await tempDir(t, 'p2ptube-dl'), '--stabilize', '0']
  const first = await startTui(t, args, { width: 100, height: 30 })
  await first.waitFor(/files 0/)
  await first.keys('a')
  await first.waitFor(/Share a folder or file/)
  await first.type(share)
  await first.keys('Enter')
  await first.waitFor(/shared 1 new file/)
  await first.keys('q')
  t.true(await poll(() => first.dead(), 10_000))
  t.is(await first.exitStatus(), 0)
  const saved = JSON.parse(await fs.readFile(path.join(data, 'state.json'), 'utf8')) as { shares: string[] }
  t.deepEqual(saved.shares, [await fs.realpath(share)])

  const second = await startTui(t, args, { width: 100, height: 30 })
  const screen = await second.waitFor(/files 1/)
  t.regex(screen, new RegExp(SMALL_CLIP.replace(/\./g, '\\.')))
  await second.keys('q')
  t.true(await poll(() => second.dead(), 10_000))
})
