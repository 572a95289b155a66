/**
 * A node's state across restarts (src/app/state.ts, src/cli/profile.ts) with real `p2ptube node`
 * processes on temp XDG folders: shares, peers and downloaded files come back; an unfinished
 * transfer resumes; a second process never overwrites the owner's state or cache; one-shot
 * commands need no --peer once a node ran.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { BIG_CLIP, isolatedXdg, contentIdFile, shareWith, SMALL_CLIP, spawnCli, tempDir, VIDEO_DIR, type JsonProc } from '../helpers/nodes.ts'

type Env = Record<string, string>

/** A seeder with its own --data folder, sharing `clips`; its listening event. */
async function seeder(t: Parameters<typeof spawnCli>[0], clips: string[], extra: string[] = []) {
  const p = spawnCli(t, ['node', '--json', '--share', await shareWith(t, clips), '--data', await tempDir(t), '--stabilize', '0', ...extra])
  const listening = await p.next('listening')
  await p.next((e) => e.event === 'indexed' && e.files === clips.length)
  return { p, id: `127.0.0.1:${String(listening.port)}` }
}

/** Start `p2ptube node --json` on `env` (the default state folder); resolves once it listens. */
async function startNode(t: Parameters<typeof spawnCli>[0], env: Env, args: string[] = []): Promise<{ p: JsonProc; listening: Record<string, unknown> }> {
  const p = spawnCli(t, ['node', '--json', '--stabilize', '0', ...args], env)
  return { p, listening: await p.next('listening') }
}

async function quit(t: Parameters<typeof spawnCli>[0], p: JsonProc): Promise<void> {
  p.send({ cmd: 'quit' })
  t.is(await p.exited, 0, p.stderr())
}

const stateOf = async (env: Env): Promise<Record<string, unknown[]>> =>
  JSON.parse(await fs.readFile(path.join(env.XDG_DATA_HOME as string, 'p2ptube', 'state.json'), 'utf8')) as Record<string, unknown[]>

test('shares added at run time, peers seen and downloaded files come back after a restart; the lock goes with the node', async (t) => {
  const env = isolatedXdg(t)
  const s = await seeder(t, [SMALL_CLIP])
  const added = await shareWith(t, [BIG_CLIP])
  const first = await startNode(t, env, ['--peer', s.id])
  t.is(first.listening.files, 0)
  first.p.send({ cmd: 'share', path: added })
  await first.p.next('shared')
  first.p.send({ cmd: 'fetch', name: SMALL_CLIP })
  const fetched = await first.p.next('fetched')
  t.is(path.dirname(String(fetched.path)), path.join(env.XDG_DOWNLOAD_DIR as string, 'p2ptube'), 'downloads go to $XDG_DOWNLOAD_DIR/p2ptube')
  await first.p.next((e) => e.event === 'log' && String(e.msg).startsWith('now sharing'))
  t.true(await fs.stat(path.join(env.XDG_DATA_HOME as string, 'p2ptube', 'node.lock')).then(() => true), 'the running node holds the lock')
  await quit(t, first.p)
  await t.throwsAsync(fs.stat(path.join(env.XDG_DATA_HOME as string, 'p2ptube', 'node.lock')), undefined, 'the lock is removed at stop')
  const saved = await stateOf(env)
  t.deepEqual(saved.shares, [await fs.realpath(added)])
  t.deepEqual(saved.downloaded, [await fs.realpath(String(fetched.path))])
  t.deepEqual(saved.transfers, [])

  // No --peer, no --share: the state brings back the share, the downloaded file and the peer.
  const second = await startNode(t, env)
  t.is(second.listening.files, 2, 'the added share (1 file) and the downloaded file')
  const rejoined = await second.p.next('peer-added')
  t.is(rejoined.peer, s.id)
  second.p.send({ cmd: 'library' })
  const lib = await second.p.next('library')
  t.deepEqual((lib.files as Array<{ name: string }>).map((f) => f.name).sort(), [BIG_CLIP, SMALL_CLIP].sort())
  await quit(t, second.p)
})

test('an unfinished transfer resumes from its partial file at the next start, without --peer', async (t) => {
  const env = isolatedXdg(t)
  // 4.3 MB at 400 kB/s: about 11 s, so the first node is stopped well before the end.
  const s = await seeder(t, [BIG_CLIP], ['--rate-limit', '400000'])
  const first = await startNode(t, env, ['--peer', s.id])
  first.p.send({ cmd: 'fetch', name: BIG_CLIP })
  await first.p.next((e) => e.event === 'progress' && Number(e.received) > 256 * 1024)
  first.p.child.kill('SIGTERM')
  t.is(await first.p.exited, 0)
  const saved = await stateOf(env)
  t.is(saved.transfers?.length, 1)
  t.like(saved.transfers?.[0], { name: BIG_CLIP, holder: s.id })

  const second = await startNode(t, env)
  const resuming = await second.p.next('resuming')
  t.is(resuming.name, BIG_CLIP)
  const resumed = await second.p.next('resumed')
  t.true(Number(resumed.bytes) > 256 * 1024, `resumed with ${String(resumed.bytes)} bytes already there`)
  const done = await second.p.next('fetched')
  t.is(done.sha256, await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP)))
  await second.p.next((e) => e.event === 'log' && String(e.msg).startsWith('now sharing'))
  await quit(t, second.p)
  const after = await stateOf(env)
  t.deepEqual(after.transfers, [], 'a finished transfer is no longer saved')
  t.is(after.downloaded?.length, 1)
})

test("a second node and a one-shot fetch on the same machine never overwrite the running node's state or cache; fetch needs no --peer", async (t) => {
  const env = isolatedXdg(t)
  const share = await shareWith(t, [SMALL_CLIP])
  const owner = await startNode(t, env, ['--share', share])
  await owner.p.next((e) => e.event === 'indexed' && e.files === 1)
  const cacheFile = path.join(env.XDG_CACHE_HOME as string, 'p2ptube', 'content-ids.json')
  const cacheBefore = await fs.readFile(cacheFile, 'utf8')
  const stateFile = path.join(env.XDG_DATA_HOME as string, 'p2ptube', 'state.json')
  const stateBefore = await fs.readFile(stateFile, 'utf8')

  // A second node on the same folders: it runs, says it keeps nothing, and writes nothing.
  const other = await startNode(t, env, ['--share', await shareWith(t, [BIG_CLIP])])
  t.regex(other.p.stderr() + JSON.stringify(other.p.events), /belongs to p2ptube process \d+/)
  other.p.send({ cmd: 'share', path: await shareWith(t, [[SMALL_CLIP, 'other.mp4']]) })
  await other.p.next('shared')
  await quit(t, other.p)

  // A one-shot fetch with no --peer joins the running node (its port is in the lock) and fetches.
  const out = await tempDir(t)
  const f = spawnCli(t, ['fetch', SMALL_CLIP, '--json', '--out', out, '--timeout', '3'], env)
  t.is(await f.exited, 0, f.stderr())
  t.is((await f.next('fetched')).sha256, await contentIdFile(path.join(VIDEO_DIR, SMALL_CLIP)))

  t.is(await fs.readFile(cacheFile, 'utf8'), cacheBefore, 'the content id cache is the owner’s')
  t.is(await fs.readFile(stateFile, 'utf8'), stateBefore, 'the state is the owner’s')
  await quit(t, owner.p)

  // The owner shares what the one-shot fetch downloaded from its next start on.
  const again = await startNode(t, env, ['--share', share])
  t.is(again.listening.files, 2)
  await quit(t, again.p)
})
