/**
 * MpvPlayer against a real headless mpv and real media served over 127.0.0.1 HTTP with Range
 * support, the feeding method ../shared/reference/mpv-and-streaming.md found to work.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MpvNotInstalledError, MpvPlayer, sweepStaleSockets, type MpvPlayerEvents } from '../src/player/mpv-player.ts'
import { spawnCli } from './helpers/nodes.ts'

const VIDEO_DIR = '/usr/share/lebiniou/vue/media'
const AUDIO_DIR = '/usr/share/scummvm/drascula/audio'
const PLAYER_MODULE = fileURLToPath(new URL('../src/player/mpv-player.ts', import.meta.url))

/** Largest file of `dir` with extension `ext` (the longest clip, so a 2 s seek stays inside it). */
function largest(dir: string, ext: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .map((f) => join(dir, f))
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!
}

/** Serves one file with single-range support (206/416), as the node's stream server must. */
async function serveFile(file: string, type: string): Promise<{ url: string; server: Server; ranges: string[] }> {
  const size = statSync(file).size
  const ranges: string[] = []
  const server = createServer((req, res) => {
    const range = req.headers.range
    ranges.push(range ?? '(none)')
    const m = /^bytes=(\d*)-(\d*)$/.exec(range ?? '')
    let start = 0
    let end = size - 1
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] !== '') {
        start = Number(m[1])
        if (m[2] !== '') end = Math.min(Number(m[2]), size - 1)
      } else {
        start = Math.max(0, size - Number(m[2]))
      }
      if (start > end) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end()
      res.writeHead(206, { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}` })
    } else {
      res.writeHead(200, { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Length': size })
    }
    if (req.method === 'HEAD') return void res.end()
    createReadStream(file, { start, end }).pipe(res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/${encodeURIComponent(basename(file))}`, server, ranges }
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** Resolves at the first `event` whose arguments satisfy `accept`; rejects only as a failure guard. */
function nextEvent<K extends keyof MpvPlayerEvents>(player: MpvPlayer, event: K, accept: (...args: MpvPlayerEvents[K]) => boolean = () => true, ms = 10_000): Promise<MpvPlayerEvents[K]> {
  return new Promise((resolve, reject) => {
    const emitter = player as unknown as NodeJS.EventEmitter
    const timer = setTimeout(() => {
      emitter.off(event, listener)
      reject(new Error(`no '${event}' event within ${ms} ms`))
    }, ms)
    const listener = (...args: unknown[]): void => {
      if (!accept(...(args as MpvPlayerEvents[K]))) return
      clearTimeout(timer)
      emitter.off(event, listener)
      resolve(args as MpvPlayerEvents[K])
    }
    emitter.on(event, listener)
  })
}

/**
 * kill(pid, 0) throwing ESRCH means gone. An mpv orphaned by a dead parent is reaped by this
 * machine's init only after a while, so a zombie ('Z' in /proc/<pid>/stat) counts as dead too.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** No event exists for another process's death: poll every 50 ms, at most `ms`. */
async function waitGone(pid: number, ms = 5000): Promise<number> {
  const t0 = Date.now()
  while (isAlive(pid) && Date.now() - t0 < ms) await new Promise((resolve) => setTimeout(resolve, 50))
  return Date.now() - t0
}

test('plays an HTTP-served MP4: first frame, position, pause, seek, quit cleans up', async (t) => {
  const { url, server, ranges } = await serveFile(largest(VIDEO_DIR, '.mp4'), 'video/mp4')
  t.teardown(() => closeServer(server))
  const player = new MpvPlayer({ headless: true })
  t.teardown(() => player.quit())

  const t0 = performance.now()
  await player.start()
  const tReady = performance.now()
  const pid = player.pid!
  const socketPath = player.socketPath!
  t.true(isAlive(pid))
  t.true(existsSync(socketPath))
  t.true(Buffer.byteLength(socketPath) < 100)

  const firstFrame = nextEvent(player, 'playback-restart')
  const moving = nextEvent(player, 'position', (s) => s > 0)
  await player.play(url)
  await firstFrame
  const tFrame = performance.now()
  const [pos] = await moving
  t.true(pos > 0)
  t.true(player.duration !== null && player.duration > 2)
  t.log(`spawn→ready ${Math.round(tReady - t0)} ms, play()→first frame ${Math.round(tFrame - tReady)} ms`)

  const pausedEvent = nextEvent(player, 'pause', (p) => p)
  await player.pause()
  await pausedEvent
  t.true(player.paused)

  await player.seek(2, 'absolute')
  t.true(player.position !== null && player.position >= 2, `position ${player.position}`)
  t.true(player.paused, 'a seek keeps the pause state')
  t.log(`Range requests: ${ranges.join(', ')}`)

  const exited = nextEvent(player, 'exit')
  await player.quit()
  await exited
  t.false(player.running)
  t.false(isAlive(pid))
  t.false(existsSync(socketPath), 'mpv 0.35 leaves its socket file; quit() removes it')
})

test('start() throws MpvNotInstalledError when the binary is missing', async (t) => {
  const player = new MpvPlayer({ binary: '/nonexistent/mpv', headless: true })
  t.teardown(() => player.quit())
  const err = await t.throwsAsync(player.start(), { instanceOf: MpvNotInstalledError })
  t.is((err as MpvNotInstalledError).code, 'ERR_MPV_NOT_FOUND')
  t.regex(err!.message, /install/)
  t.is(player.pid, null, 'nothing was spawned')
})

test('`p2ptube fetch --play` without mpv says "install mpv" at once, before joining anyone, and exits 1', async (t) => {
  // A PATH without mpv (node itself is spawned by its absolute path).
  const p = spawnCli(t, ['fetch', '0'.repeat(64), '--peer', '127.0.0.1:1', '--play'], { PATH: '/nonexistent' })
  t.is(await p.exited, 1)
  t.regex(p.stderr(), /mpv was not found.*install/)
  t.notRegex(p.stderr() + p.events.map((e) => JSON.stringify(e)).join('\n'), /join|listening/, 'no node was started')
})

test('start() fails with ERR_TIMEOUT and leaves no mpv behind', async (t) => {
  // 1 ms: mpv cannot open its IPC socket that fast; the spawn, before or after the timeout, is
  // killed at once.
  const player = new MpvPlayer({ headless: true, startTimeoutMs: 1 })
  t.teardown(() => player.quit())
  const spawned = nextEvent(player, 'exit')
  const err = await t.throwsAsync(player.start())
  t.is((err as { code?: string }).code, 'ERR_TIMEOUT')
  await spawned // the late spawn is adopted and killed at once
  t.false(isAlive(player.pid!))
  t.false(existsSync(player.socketPath!))
})

test('start() fails with ERR_MPV_EXITED when mpv rejects a player arg', async (t) => {
  const player = new MpvPlayer({ headless: true, playerArgs: ['--no-such-option-p2ptube'] })
  t.teardown(() => player.quit())
  const err = await t.throwsAsync(player.start())
  t.is((err as { code?: string }).code, 'ERR_MPV_EXITED')
  t.false(player.running)
})

test('plays an .ogg over HTTP in audio-only mode', async (t) => {
  const { url, server } = await serveFile(largest(AUDIO_DIR, '.ogg'), 'audio/ogg')
  t.teardown(() => closeServer(server))
  const player = new MpvPlayer({ headless: true, audioOnly: true })
  t.teardown(() => player.quit())
  await player.start()

  const firstFrame = nextEvent(player, 'playback-restart')
  const moving = nextEvent(player, 'position', (s) => s > 0)
  const t0 = performance.now()
  await player.play(url)
  await firstFrame
  t.log(`play()→playback-restart ${Math.round(performance.now() - t0)} ms`)
  const [pos] = await moving
  t.true(pos > 0)
})

test('play() rejects with ERR_MPV_LOAD for a URL the server answers 404', async (t) => {
  const server = createServer((_req, res) => res.writeHead(404).end())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => closeServer(server))
  const player = new MpvPlayer({ headless: true })
  t.teardown(() => player.quit())
  await player.start()
  const { port } = server.address() as AddressInfo
  const err = await t.throwsAsync(player.play(`http://127.0.0.1:${port}/missing.mp4`))
  t.is((err as { code?: string }).code, 'ERR_MPV_LOAD')
  t.true(player.running, 'mpv stays usable after a failed load')
})

test('mpv dying under the player: exit event, pending play() and later calls reject ERR_MPV_EXITED', async (t) => {
  // A server that holds the request, like the node's stream server waiting for a stalled peer.
  const server = createServer(() => {})
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => closeServer(server))
  const requested = once(server, 'request')
  const player = new MpvPlayer({ headless: true })
  t.teardown(() => player.quit())
  await player.start()
  const { port } = server.address() as AddressInfo
  const pending = player.play(`http://127.0.0.1:${port}/stalled.mp4`)
  await requested
  const exited = nextEvent(player, 'exit')
  process.kill(player.pid!, 'SIGKILL')
  const [, signal] = await exited
  t.is(signal, 'SIGKILL')
  t.false(player.running)
  t.is(((await t.throwsAsync(pending)) as { code?: string }).code, 'ERR_MPV_EXITED')
  t.is(((await t.throwsAsync(player.pause())) as { code?: string }).code, 'ERR_MPV_EXITED')
  t.false(existsSync(player.socketPath!))
})

/**
 * A child Node starts a player, prints mpv's pid, then dies in `how`. Whatever the cause, mpv
 * must not outlive it: 'exit' hook (uncaught error), fd://0 IPC client (signals, SIGKILL).
 */
for (const how of ['uncaught error', 'SIGTERM', 'SIGKILL'] as const) {
  test(`no mpv survives its Node process dying by ${how}`, async (t) => {
    const script = `
      import { MpvPlayer } from ${JSON.stringify(PLAYER_MODULE)}
      const player = new MpvPlayer({ headless: true })
      await player.start()
      await player.play(${JSON.stringify(largest(VIDEO_DIR, '.mp4'))})
      console.log(player.pid + ' ' + player.socketPath)
      if (${JSON.stringify(how)} === 'uncaught error') setTimeout(() => { throw new Error('boom') }, 20)
      else setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    // eslint-disable-next-line prefer-const -- read by the teardown before it is assigned
    let mpvPid: number | undefined
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      if (mpvPid !== undefined && isAlive(mpvPid)) process.kill(mpvPid, 'SIGKILL')
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    const [line] = (await once(child.stdout, 'data')) as [Buffer]
    const [pidText, socketPath] = line.toString().trim().split(' ') as [string, string]
    mpvPid = Number(pidText)
    t.true(Number.isInteger(mpvPid) && isAlive(mpvPid), `child printed ${line.toString()} / ${stderr}`)

    if (how !== 'uncaught error') child.kill(how)
    const [code, signal] = await exited
    if (how === 'uncaught error') {
      t.is(code, 1)
      t.regex(stderr, /boom/)
    } else {
      t.is(signal, how)
    }
    const waited = await waitGone(mpvPid)
    t.false(isAlive(mpvPid), `mpv ${mpvPid} still alive ${waited} ms after its parent died by ${how}`)
    t.log(`mpv gone ${waited} ms after the parent's exit`)
    // Only the exit hook (uncaught error) deletes the socket; after a signal death the file stays
    // (mpv 0.35) until a sweep, which start() runs once per process (or a concurrent test did).
    if (how !== 'uncaught error') sweepStaleSockets([dirname(socketPath)])
    t.false(existsSync(socketPath))
  })
}
