/**
 * `p2ptube group` end to end with real processes: init, invite (credential file 0600, path
 * printed), list, a group tracker (--group-admin), a publishing node and a one-shot fetch with
 * --group that finds the tracker from the credential, `tracker status --group`; a world-readable
 * credential is refused.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { contentIdFile, shareWith, SMALL_CLIP, spawnCli, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'

test('group init / invite / list, tracker --group-admin, node and fetch with --group (child processes)', async (t) => {
  const dir = path.join(await tempDir(t, 'p2ptube-admin'), 'g')
  const init = spawnCli(t, ['group', 'init', 'family', '--data', dir, '--json'])
  const made = await init.next('group')
  t.is(made.name, 'family')
  const tr = spawnCli(t, ['tracker', '--port', '0', '--group-admin', dir, '--announce-interval', '1', '--data', path.join(dir, '..', 'trk'), '--json'])
  const listening = await tr.next('listening')
  const trackerAddr = String(listening.id)
  // The tracker's port is only known now, so the members pass --tracker (a real group writes it
  // into credentials with `group init --tracker H:P`).
  const inv = spawnCli(t, ['group', 'invite', 'alice', '--publish', '--data', dir, '--json'])
  const alice = await inv.next('invited')
  await inv.exited
  const inv2 = spawnCli(t, ['group', 'invite', 'bob', '--data', dir, '--json'])
  const bob = await inv2.next('invited')
  await inv2.exited
  t.is((await fs.stat(String(alice.file))).mode & 0o777, 0o600)
  const list = spawnCli(t, ['group', 'list', '--data', dir, '--json'])
  const members = (await list.next('members')).members as Array<{ name: string; publish: boolean }>
  t.deepEqual(
    members.map((m) => [m.name, m.publish]),
    [
      ['alice', true],
      ['bob', false]
    ]
  )

  const node = spawnCli(t, ['node', '--json', '--group', String(alice.file), '--tracker', trackerAddr, '--share', await shareWith(t, [SMALL_CLIP]), '--data', await tempDir(t)])
  await node.next('listening')
  await tr.next((e) => e.event === 'peer-registered')
  const out = await tempDir(t, 'p2ptube-out')
  const fetch = spawnCli(t, ['fetch', 'lebiniou-2021-06-10_12-19-19.mp4', '--group', String(bob.file), '--tracker', trackerAddr, '--json', '--out', out, '--data', await tempDir(t)])
  const done = await fetch.next('fetched')
  t.is(done.sha256, await contentIdFile(path.join(VIDEO_DIR, SMALL_CLIP)))

  // The group tracker's status: members ask over mutual TLS; plain TCP gets nothing, with a hint.
  const status = spawnCli(t, ['tracker', 'status', '--group', String(bob.file), '--tracker', trackerAddr, '--json'])
  const st = await status.next('status')
  t.is(st.peers, 1, 'alice is online')
  t.is(await status.exited, 0)
  const plain = spawnCli(t, ['tracker', 'status', '--tracker', trackerAddr])
  t.is(await plain.exited, 1)
  t.regex(plain.stderr(), /answers members only: pass --group/)

  // A credential readable by others is refused before anything is dialled.
  await fs.chmod(String(bob.file), 0o644)
  const bad = spawnCli(t, ['search', 'x', '--group', String(bob.file), '--tracker', trackerAddr])
  t.not(await bad.exited, 0)
  t.regex(bad.stderr(), /readable by others/)
})

test('two `group invite` at once both land (the admin dir is locked while it changes); a lock left by a dead process is taken over', async (t) => {
  const dir = path.join(await tempDir(t, 'p2ptube-admin'), 'g')
  const init = spawnCli(t, ['group', 'init', 'friends', '--data', dir, '--json'])
  await init.next('group')
  t.is(await init.exited, 0)
  // Each invite reads members.json, spends ~0.1 s in openssl, then writes it back: without the
  // lock the second write drops the first member.
  const invites = ['carol', 'dan', 'erin'].map((n) => spawnCli(t, ['group', 'invite', n, '--data', dir, '--json']))
  t.deepEqual(await Promise.all(invites.map((p) => p.exited)), [0, 0, 0])
  const list = spawnCli(t, ['group', 'list', '--data', dir, '--json'])
  const members = (await list.next('members')).members as Array<{ name: string }>
  t.deepEqual(members.map((m) => m.name).sort(), ['carol', 'dan', 'erin'])

  // A lock file whose process is gone (a crashed admin command).
  const dead = spawnCli(t, ['--version'])
  await dead.exited
  await fs.writeFile(path.join(dir, 'admin.lock'), String(dead.child.pid))
  const again = spawnCli(t, ['group', 'invite', 'fay', '--data', dir, '--json'])
  t.is((await again.next('invited')).name, 'fay')
  t.is(await again.exited, 0)
  await t.throwsAsync(fs.stat(path.join(dir, 'admin.lock')), undefined, 'the lock is released')
})
