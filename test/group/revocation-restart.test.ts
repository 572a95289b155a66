/**
 * Revocations survive a restart (issue #11 item 2): a member node keeps the newest verified
 * revocation list in its data dir, so after the tracker dies and the member restarts a revoked
 * member still cannot fetch from it; an older list never replaces a newer one.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { NodeGroup } from '../../src/group/node-group.ts'
import { loadCredential } from '../../src/group/credential.ts'
import { SMALL_CLIP, shareWith, spawnCli, tempDir } from '../helpers/nodes.ts'
import { requestText } from '../../src/net/client.ts'
import { until } from '../tracker/helpers.ts'
import { makeGroup } from './helpers.ts'

test('revoke, kill the tracker, restart the member: the revoked member still cannot fetch from it (child processes)', async (t) => {
  const g = await makeGroup(t, { alice: true, dave: true })
  const credFile = (n: string): string => path.join(g.dir, 'credentials', `${n}.json`)
  const tr = spawnCli(t, ['tracker', '--port', '0', '--host', '127.0.0.1', '--group-admin', g.dir, '--announce-interval', '1', '--data', await tempDir(t), '--json'])
  const trackerAddr = String((await tr.next('listening')).id)
  const aliceData = await tempDir(t, 'p2ptube-alice-data')
  const share = await shareWith(t, [SMALL_CLIP])
  const aliceArgs = ['node', '--json', '--host', '127.0.0.1', '--group', credFile('alice'), '--tracker', trackerAddr, '--share', share, '--data', aliceData]
  const alice = spawnCli(t, aliceArgs)
  const aliceId = String((await alice.next('listening')).id)
  // dave may fetch before the revocation (control).
  const fetchArgs = (out: string, peer: string): string[] => ['fetch', SMALL_CLIP, '--group', credFile('dave'), '--peer', peer, '--json', '--out', out, '--data', out]
  const before = spawnCli(t, fetchArgs(await tempDir(t), aliceId))
  t.is(await before.exited, 0, before.stderr())
  // Keep dave's credential: `group revoke` deletes it from the admin dir.
  const daveCopy = path.join(await tempDir(t), 'dave.json')
  await fs.copyFile(credFile('dave'), daveCopy)
  await fs.chmod(daveCopy, 0o600)
  const revoke = spawnCli(t, ['group', 'revoke', 'dave', '--data', g.dir, '--json'])
  await revoke.next('revoked')
  // alice hears of it from the tracker (push, or its next poll): dave's handshake is refused.
  const dave = new NodeGroup(loadCredential(daveCopy))
  const [host, port] = aliceId.split(':') as [string, string]
  await until(async () => {
    try {
      await requestText({ host, port: Number(port) }, 'NAME', '', { transport: dave.transport, connectTimeoutMs: 3000, idleTimeoutMs: 3000 })
      return false
    } catch {
      return true
    }
  }, 30_000)
  tr.child.kill('SIGKILL')
  await tr.exited
  alice.child.kill('SIGTERM')
  await alice.exited
  // alice again, its tracker gone: only its data dir knows dave is revoked.
  const again = spawnCli(t, aliceArgs)
  const id2 = String((await again.next('listening')).id)
  const out = await tempDir(t)
  const after = spawnCli(t, ['fetch', SMALL_CLIP, '--group', daveCopy, '--peer', id2, '--json', '--out', out, '--data', out])
  t.not(await after.exited, 0, 'the revoked member cannot fetch after the restart')
  await t.throwsAsync(fs.access(path.join(out, SMALL_CLIP)))
})

test('a saved list is loaded only when it verifies and is newer than the one held', async (t) => {
  const g = await makeGroup(t, { alice: true, dave: true, erin: true })
  const state = await tempDir(t)
  const alice = loadCredential(path.join(g.dir, 'credentials', 'alice.json'))
  await g.admin.revoke('dave')
  const v1 = JSON.parse(await fs.readFile(path.join(g.dir, 'revocations.json'), 'utf8'))
  await g.admin.revoke('erin')
  const v2 = JSON.parse(await fs.readFile(path.join(g.dir, 'revocations.json'), 'utf8'))
  const first = new NodeGroup(alice, { stateDir: state })
  t.true(first.revocations.apply(v2))
  await first.saved()
  // Restart: the saved v2 is loaded; the older v1 offered later is refused.
  const second = new NodeGroup(alice, { stateDir: state })
  t.false(second.revocations.has(g.creds.erin!.serial))
  await second.loadSaved()
  t.true(second.revocations.has(g.creds.erin!.serial))
  t.false(second.revocations.apply(v1))
  // A forged file (signature of another list) is ignored, not trusted.
  await fs.writeFile(second.stateFile!, JSON.stringify({ list: v1.list.replace('"version":', '"version":9'), sig: v1.sig }))
  const third = new NodeGroup(alice, { stateDir: state })
  const logs: string[] = []
  third.on('log', (_l: string, m: string) => logs.push(m))
  await third.loadSaved()
  t.false(third.revocations.has(g.creds.erin!.serial))
  t.regex(logs.join('\n'), /ignoring .*not signed by the group CA/)
})
