/**
 * Service mode (src/cli/commands/node.ts, src/cli/service-log.ts, src/node/upload-log.ts): a
 * `p2ptube node` with stdin closed keeps running; a supervised restart after a crash (SIGKILL)
 * brings its state back and resumes its transfer; logs carry ISO times and go to --log-file; the
 * seeder logs each finished upload (peer, file, bytes, ms); runs of identical lines are counted.
 * No user systemd runs here (`systemctl --user` is offline), so the README unit is tested as the
 * supervisor would run it: stdin not a pipe, restarted after a kill.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import path from 'node:path'
import { RepeatFilter } from '../../src/cli/service-log.ts'
import { UploadLog, type Upload } from '../../src/node/upload-log.ts'
import { events } from '../helpers/lab-process.ts'
import { BIG_CLIP, BIN, CHILD_ARGS, CHILD_ENV, isolatedXdg, contentIdFile, shareWith, SMALL_CLIP, spawnCli, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'

const ISO_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) \S/

/** `p2ptube node ARGS` as a service manager runs it: stdin is not a pipe (/dev/null). */
function service(t: Parameters<typeof spawnCli>[0], args: string[], env: Record<string, string>) {
  const p = spawn(process.execPath, [...CHILD_ARGS, BIN, 'node', '--json', '--no-port-mapping', '--stabilize', '0', ...args], {
    env: { ...process.env, NO_COLOR: '1', ...CHILD_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(p, 'exit')
  t.teardown(() => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  })
  return { p, log: events(p), exited }
}

test('a node with stdin closed keeps running; after a crash a restarted node takes its state back, resumes the transfer and keeps running; the seeder logs the uploads', async (t) => {
  const env = isolatedXdg(t)
  const seeder = spawnCli(t, ['node', '--json', '--share', await shareWith(t, [BIG_CLIP]), '--data', await tempDir(t), '--stabilize', '0', '--rate-limit', '400000'])
  const sl = await seeder.next('listening')
  await seeder.next((e) => e.event === 'indexed' && e.files === 1)
  const seederId = `127.0.0.1:${String(sl.port)}`
  const share = await shareWith(t, [SMALL_CLIP])
  const logFile = path.join(await tempDir(t), 'logs', 'node.log')

  // Run 1, scripted (--stdin): share a folder, start a 4.3 MB fetch at 400 kB/s, then crash.
  const first = spawnCli(t, ['node', '--json', '--stdin', '--stabilize', '0', '--peer', seederId], env)
  await first.next('listening')
  first.send({ cmd: 'share', path: share })
  await first.next('shared')
  first.send({ cmd: 'fetch', name: BIG_CLIP })
  await first.next((e) => e.event === 'progress' && Number(e.received) > 256 * 1024)
  const stateFile = path.join(env.XDG_DATA_HOME as string, 'p2ptube', 'state.json')
  // The state is written 200 ms after a change: wait for the transfer to be in it, then kill -9.
  for (let i = 0; i < 100 && !(await fs.readFile(stateFile, 'utf8')).includes(BIG_CLIP); i++) await new Promise((r) => setTimeout(r, 50))
  first.child.kill('SIGKILL')
  await first.exited

  // Run 2, as a service: no stdin, a log file. The crashed node's lock is stale and taken over.
  const svc = service(t, ['--log-file', logFile], env)
  const listening = await svc.log.next('listening')
  t.is(listening.files, 1, 'the share added in run 1 is back')
  t.false(
    svc.log.all.some((e) => /belongs to p2ptube process/.test(String(e.msg))),
    'the stale lock of the killed node is taken over'
  )
  t.is((await svc.log.next('resuming')).name, BIG_CLIP)
  const resumed = await svc.log.next('resumed')
  // After a kill -9 the chunk map on disk may lag what was written (docs/STREAMING.md): some of it.
  t.true(Number(resumed.bytes) > 0, `resumed with ${String(resumed.bytes)} bytes`)
  const fetched = await svc.log.next('fetched', undefined, 60_000)
  t.is(fetched.sha256, await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP)))
  // Still running with stdin closed: it answers a one-shot search (no --peer: the lock names its port).
  const search = spawnCli(t, ['search', 'lebiniou', '--json', '--timeout', '2'], env)
  t.is(await search.exited, 0, search.stderr())
  t.true(search.events.some((e) => e.event === 'result'))
  t.is(svc.p.exitCode, null, 'the node still runs')
  const logEvent = svc.log.all.find((e) => e.event === 'log')
  t.regex(String(logEvent?.time), /^\d{4}-\d\d-\d\dT.*Z$/, 'JSON log events carry an ISO time')

  svc.p.kill('SIGTERM')
  t.is((await svc.exited)[0], 0, 'SIGTERM stops it cleanly')
  const lines = (await fs.readFile(logFile, 'utf8')).trim().split('\n')
  t.true(lines.length > 3)
  for (const l of lines) t.regex(l, ISO_LINE)
  t.true(lines.some((l) => l.includes('state: resuming')))

  // The seeder logged each upload once (not once per request): to 127.0.0.1, the file, bytes, ms.
  // An upload is logged once its peer has been idle for 3 s: wait until they cover the file.
  const size = (await fs.stat(path.join(VIDEO_DIR, BIG_CLIP))).size
  const sent = (): number => seeder.events.filter((e) => e.event === 'upload').reduce((n, u) => n + Number(u.bytes), 0)
  await seeder.next(() => sent() >= size - Number(resumed.bytes))
  const uploads = seeder.events.filter((e) => e.event === 'upload')
  for (const u of uploads) {
    t.like(u, { file: BIG_CLIP })
    t.regex(String(u.peer), /127\.0\.0\.1$/)
    t.true(Number(u.bytes) > 0 && Number(u.ms) > 0 && Number(u.requests) >= 1)
  }
  t.true(
    seeder.events.some((e) => e.event === 'log' && /^uploaded lebiniou-.* to .*127\.0\.0\.1: .* in \d+ ms/.test(String(e.msg))),
    'one human line per upload'
  )
})

test('--stdin needs --json (exit 2)', async (t) => {
  const p = spawnCli(t, ['node', '--stdin'], isolatedXdg(t))
  t.is(await p.exited, 2)
  t.regex(p.stderr(), /--stdin takes JSON commands/)
})

test('a run of identical log lines is logged once, then counted', (t) => {
  const f = new RepeatFilter()
  const out = [...f.filter('warn', 'tracker down'), ...f.filter('warn', 'tracker down'), ...f.filter('warn', 'tracker down'), ...f.filter('info', 'tracker back'), ...f.filter('info', 'x')]
  t.deepEqual(out, [
    { level: 'warn', msg: 'tracker down' },
    { level: 'info', msg: '(previous line repeated 2 more times)' },
    { level: 'info', msg: 'tracker back' },
    { level: 'info', msg: 'x' }
  ])
})

test('replies to one peer for one file make one upload; another peer or file is another', async (t) => {
  const log = new UploadLog(60_000)
  const got: Upload[] = []
  log.on('upload', (u: Upload) => got.push(u))
  const at = 1_000_000
  log.record({ remote: '10.0.0.2', member: null, name: 'a.mp4', bytes: 65536, ms: 100, at })
  log.record({ remote: '10.0.0.2', member: null, name: 'a.mp4', bytes: 65536, ms: 150, at: at + 120 })
  log.record({ remote: '10.0.0.3', member: 'bob', name: 'a.mp4', bytes: 10, ms: 5, at })
  log.record({ remote: '10.0.0.2', member: null, name: 'b.ogg', bytes: 7, ms: 1, at })
  t.is(got.length, 0, 'nothing before the peer goes idle')
  log.stop()
  t.deepEqual(got, [
    { peer: '10.0.0.2', member: null, name: 'a.mp4', bytes: 131072, ms: 220, requests: 2 },
    { peer: '10.0.0.3', member: 'bob', name: 'a.mp4', bytes: 10, ms: 5, requests: 1 },
    { peer: '10.0.0.2', member: null, name: 'b.ogg', bytes: 7, ms: 1, requests: 1 }
  ])
})
