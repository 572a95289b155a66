/**
 * `p2ptube node`: a headless node. With --json it prints one JSON event per line on stdout
 * (the first is {"event":"listening","id":"H:P",...}); with --stdin it takes JSON commands on
 * stdin, one per line, and quits when stdin closes: this is how test networks script nodes
 * (README "Scripted nodes"). Without --stdin it runs until SIGINT/SIGTERM (a service: README
 * "Always on"); logs carry ISO timestamps, --log-file appends them to a file, and every finished
 * upload is logged (service-log.ts).
 */
import readline from 'node:readline'
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import type { P2PNode, SearchResult } from '../../app/node.ts'
import type { MpvPlayer } from '../../player/mpv-player.ts'
import type { PortMappingStatus } from '../../discovery/port-mapping.ts'
import type { ControlStatus } from '../../discovery/control-channel.ts'
import { reachabilityText } from '../../app/node-discovery.ts'
import type { ReservationStatus } from '../../relay/reservation.ts'
import { isContentId } from '../../protocol/messages.ts'
import { P2PTubeError, UsageError } from '../../protocol/errors.ts'
import { checkNodeArgs, fetchAndMaybePlay, joinAll, makeNode, nodeOptions, onShutdown, pickResult, resumeState, splitPlayerArgs, type NodeArgs } from '../common.ts'
import { formatBytes } from '../../text/format.ts'
import { safeText } from '../../text/safe-text.ts'
import { EXIT, Output } from '../output.ts'
import { openProfile } from '../profile.ts'
import { logUploads, openLogFile } from '../service-log.ts'
import { checkWebArgs, startWeb, webOptions, type StartedWeb, type WebArgs } from '../web-option.ts'

export const command = 'node'
export const describe = 'run a headless node until SIGINT/SIGTERM (a service; --json: JSON events on stdout, --stdin: JSON commands on stdin)'

export function builder(y: Argv) {
  return webOptions(nodeOptions(y).option('stabilize', { type: 'number', default: 10, describe: 'seconds between peer liveness checks (0 = off)' }))
    .option('stdin', { type: 'boolean', default: false, describe: 'with --json: read JSON commands from stdin, one per line, and quit when stdin closes' })
    .option('log-file', { type: 'string', describe: 'also append every log line (ISO time, level, text) to this file; reopened on SIGHUP' })
    .example('$0 node --share ~/Videos --http 8080', 'watch the library and the network in a browser on this machine')
    .example('$0 node --share ~/Videos --http 8080 --http-host 0.0.0.0', 'on the LAN: open the printed login link on the other device')
    .example('$0 node --port 9400 --share ~/Videos', 'share a folder')
    .example('$0 node --json --stdin --peer 127.0.0.1:9400', 'scripted: then type {"cmd":"search","q":"clip"}')
    .example('$0 node --json --log-file ~/p2ptube.log', 'a service: runs until SIGTERM, stdin unused')
    .epilog(
      'JSON commands with --stdin (one per line, optional "id" echoed back):\n' +
        '  {"cmd":"search","q":"words","ttl":4,"timeout":3}   → result..., search-done\n' +
        '  {"cmd":"fetch","contentId":"<hex>"|"name":"...","holder":"H:P","play":false} → fetching, progress..., fetched\n' +
        '  {"cmd":"peers"} {"cmd":"library"} {"cmd":"stats"} {"cmd":"join","peer":"H:P"}\n' +
        '  {"cmd":"share","path":"DIR"} {"cmd":"remove-peer","peer":"H:P"} {"cmd":"refresh"} {"cmd":"quit"}\n' +
        '  while a fetch plays: {"cmd":"pause"} {"cmd":"resume"} {"cmd":"seek","seconds":5,"mode":"absolute"|"relative"} {"cmd":"stop"} {"cmd":"player"} → player'
    )
}

type Cmd = Record<string, unknown> & { cmd?: unknown; id?: unknown }

/** Options the handler reads. */
export type NodeCommandArgs = NodeArgs & WebArgs & { stabilize: number; stdin: boolean; 'log-file'?: string }

/** Runs until quit or stdin EOF (--stdin), Ctrl-C or SIGTERM (QUIT is sent to peers). */
export async function handler(a: NodeCommandArgs): Promise<number> {
  const out = new Output(a.json)
  checkNodeArgs(a)
  if (a.stdin && !a.json) throw new UsageError('--stdin takes JSON commands and answers in JSON: add --json')
  const logFile = a['log-file'] ? openLogFile(a['log-file'], (err) => process.stderr.write(`error: log file ${a['log-file']}: ${err.message}\n`)) : null
  out.logTo({ timestamps: true, file: logFile?.stream ?? null })
  checkWebArgs(a)
  const profile = await openProfile(a.data, true, out)
  const node = makeNode(a, out, { stabilizeIntervalMs: a.stabilize * 1000 }, profile)
  logUploads(node, out)
  // Port mapping reports in the background, from the first network answer on (after start()).
  node.on('port-mapping', (st: PortMappingStatus) => {
    out.event('port-mapping', { ...st })
    if (st.state === 'mapped') out.line(`${out.color.green('port mapped')}: reachable from the internet at ${out.color.bold(st.public ?? '')} (${st.method}, lease ${st.leaseSeconds} s)`)
  })
  node.on('relay', (st: ReservationStatus) => {
    out.event('relay', { ...st })
    if (st.state === 'reserved') out.line(`${out.color.green('relayed')}: reachable through the relay ${out.color.bold(st.relay)} as ${out.color.bold(st.id ?? '')}`)
  })
  // The tracker's dial-back check (control connection): how peers on the internet reach this node.
  node.on('reachability', (st: ControlStatus) => {
    out.event('reachability', { ...st })
    if (st.state === 'open') out.line(`${out.color.green('reachability')}: ${reachabilityText(st)}`)
  })
  try {
    await node.start()
  } catch (err) {
    await profile.lock?.release()
    await logFile?.close()
    throw err
  }
  const reachable = node.identity.reachable()
  const portMapping = node.portMapper?.status.state ?? 'off'
  const relaying = node.relay.relay?.dataPort ?? null
  out.event('listening', { id: node.id, host: node.host, port: node.port, reachable, files: node.library.size, portMapping, relaying })
  if (relaying) out.line(`relaying for other members (data port ${relaying})`)
  out.line(`${out.color.green('listening')} as ${out.color.bold(node.id)}, sharing ${node.library.size} files`)
  if (reachable.length > 1) out.line(`reachable at ${reachable.join(', ')}`)
  node.on('peer-added', (p) => out.event('peer-added', { peer: p.id, source: p.source }))
  node.on('peer-removed', (p, reason) => out.event('peer-removed', { peer: p.id, reason }))
  node.on('search', (s) => out.event('query', s))
  node.library.on('idle', () => out.event('indexed', { files: node.library.size }))
  node.library.on('removed', (e: { name: string; cid?: string }) => out.event('unshared', { name: e.name, contentId: e.cid ?? null, files: node.library.size }))
  // Every content id came from the cache: there will be no 'idle', the library is ready now.
  if (!node.library.busy) out.event('indexed', { files: node.library.size })
  let web: StartedWeb | null = null
  try {
    web = await startWeb(node, a)
  } catch (err) {
    await node.stop()
    throw err
  }
  if (web) {
    out.event('http', { url: web.server.url, host: web.host, port: web.port, urls: web.urls, login: web.token !== undefined, token: web.token ?? null })
    out.line(`${out.color.green('web page')} at ${web.urls.join('  ')}`)
    if (web.token !== undefined) out.line(web.lines[1]!)
  }
  await joinAll(node, a.peer, out)
  // The saved state: peers rejoined and transfers resumed in the background (app/state.ts).
  const resumed = resumeState(node, profile)
  for (const d of resumed?.downloads ?? []) {
    out.event('resuming', { name: d.name, contentId: d.opts.cid ?? null, holder: d.opts.holder.id })
    d.once('resumed', (bytes: number) => out.event('resumed', { name: d.name, bytes }))
    d.start().then(
      (r) => out.event('fetched', { path: r.path, sha256: r.sha256, size: r.size, resumed: true }),
      (err: Error & { code?: string }) => out.event('error', { cmd: 'resume', name: d.name, message: err.message, code: err.code ?? null })
    )
  }

  let resolveExit!: (code: number) => void
  const exited = new Promise<number>((r) => (resolveExit = r))
  const stop = async (): Promise<void> => {
    await web?.server.stop()
    await node.stop()
    await profile.lock?.release()
    await logFile?.close()
  }
  const removeSignals = onShutdown(stop)
  if (a.stdin) {
    const session: Session = { playing: null }
    const rl = readline.createInterface({ input: process.stdin })
    rl.on('line', (line) => {
      if (!line.trim()) return
      let cmd: Cmd
      try {
        cmd = JSON.parse(line) as Cmd
        if (typeof cmd !== 'object' || cmd === null) throw new Error('not an object')
      } catch {
        out.event('error', { message: `not a JSON command: ${line.slice(0, 200)}` })
        return
      }
      runCommand(node, cmd, out, a, session).then(
        (quit) => {
          if (quit) {
            rl.close()
          }
        },
        (err: Error & { code?: string }) => out.event('error', { id: cmd.id ?? null, cmd: cmd.cmd ?? null, message: err.message, code: err.code ?? null })
      )
    })
    rl.once('close', () => void stop().then(() => resolveExit(EXIT.OK)))
  }
  const code = await exited
  removeSignals()
  return code
}

/** Per-run state of the scripted node: the mpv of the fetch playing now (pause/seek/...). */
interface Session {
  playing: MpvPlayer | null
}

async function playerCommand(c: Cmd, out: Output, session: Session): Promise<void> {
  const id = c.id ?? null
  const p = session.playing
  if (!p) throw new P2PTubeError('ERR_NOT_PLAYING', 'nothing is playing: send {"cmd":"fetch",...,"play":true} first')
  const t0 = performance.now()
  if (c.cmd === 'pause') await p.pause()
  else if (c.cmd === 'resume') await p.resume()
  else if (c.cmd === 'stop') await p.stop()
  else if (c.cmd === 'seek') {
    if (typeof c.seconds !== 'number' || !Number.isFinite(c.seconds)) throw new Error('seek needs "seconds" (a number)')
    await p.seek(c.seconds, c.mode === 'absolute' ? 'absolute' : 'relative', { precision: c.precision === 'keyframes' ? 'keyframes' : 'exact' })
  }
  // seek resolves at mpv's next playback-restart: `ms` is the time until playback resumed.
  out.event('player', { id, cmd: c.cmd, ms: Math.round(performance.now() - t0), position: p.position, duration: p.duration, paused: p.paused })
}

async function runCommand(node: P2PNode, c: Cmd, out: Output, a: NodeArgs, session: Session): Promise<boolean> {
  const id = c.id ?? null
  switch (c.cmd) {
    case 'pause':
    case 'resume':
    case 'seek':
    case 'stop':
    case 'player':
      await playerCommand(c, out, session)
      return false
    case 'quit':
      return true
    case 'peers':
      out.event('peers', { id, peers: node.peers.list().map((p) => ({ peer: p.id, source: p.source, lastSeen: p.lastSeen, extended: p.extended ?? null })) })
      return false
    case 'library':
      out.event('library', { id, files: node.library.entries().map((e) => ({ name: e.name, size: e.size, contentId: e.cid ?? null, kind: e.kind })) })
      return false
    case 'stats':
      out.event('stats', { id, ...node.stats, peers: node.peers.size, files: node.library.size })
      return false
    case 'join': {
      const added = await node.join(String(c.peer))
      out.event('joined', { id, peer: c.peer, added })
      return false
    }
    case 'remove-peer':
      out.event('peer-removed-by-user', { id, peer: c.peer, removed: node.removePeer(String(c.peer)) })
      return false
    case 'refresh': {
      const dropped = await node.stabilize()
      out.event('refreshed', { id, dropped, peers: node.peers.size })
      return false
    }
    case 'share': {
      const added = await node.library.addShare(String(c.path))
      out.event('shared', { id, path: c.path, added: added.length, files: node.library.size })
      return false
    }
    case 'search': {
      const q = String(c.q ?? '')
      const h = node.search(q, { ttl: num(c.ttl, 4), timeoutMs: num(c.timeout, 3) * 1000, ...(typeof c.cid === 'string' ? { cid: c.cid } : {}) })
      out.event('search-started', { id, qid: h.qid, q })
      h.on('result', (r) => out.event('result', { id, qid: r.qid, name: r.name, size: r.size, contentId: r.contentId, holder: r.holder, kind: r.kind, legacy: r.legacy, via: r.via ?? null }))
      const results = await h.finished
      out.event('search-done', { id, qid: h.qid, results: results.length })
      return false
    }
    case 'fetch': {
      let r: SearchResult | undefined
      const target = typeof c.contentId === 'string' ? c.contentId : String(c.name ?? '')
      if (typeof c.holder === 'string') {
        r = {
          qid: '',
          name: String(c.name ?? target),
          holder: c.holder,
          contentId: typeof c.contentId === 'string' ? c.contentId : null,
          size: typeof c.size === 'number' ? c.size : null,
          kind: null,
          legacy: typeof c.contentId !== 'string'
        }
      } else {
        const h = isContentId(target) ? node.search('', { cid: target, timeoutMs: num(c.timeout, 3) * 1000 }) : node.search(target, { timeoutMs: num(c.timeout, 3) * 1000 })
        r = pickResult(await h.finished, target)
      }
      if (!r) throw new P2PTubeError('ERR_NOT_FOUND', `no holder of ${target} found`)
      out.event('fetching', { id, name: r.name, contentId: r.contentId, holder: r.holder, size: r.size, via: r.via ?? (node.relay.via(r.holder) ? 'relay' : null) })
      const rep = await fetchAndMaybePlay(node, r, out, {
        play: c.play === true,
        playerArgs: splitPlayerArgs(a['player-args']),
        ...(typeof c.dir === 'string' ? { dir: c.dir } : {}),
        ...(Array.isArray(c.holders) ? { holders: c.holders.filter((x): x is string => typeof x === 'string') } : {}),
        onPlayer: (p) => {
          session.playing = p
          p.once('exit', () => (session.playing = session.playing === p ? null : session.playing))
        }
      })
      session.playing = null
      out.event('fetched', { id, path: rep.path, sha256: rep.sha256, size: rep.size, firstFrameMs: rep.firstFrameMs ?? null, positionBeforeDone: rep.positionBeforeDone ?? null })
      out.line(`saved ${safeText(rep.path)} (${formatBytes(rep.size)})`)
      return false
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(c.cmd)}; see p2ptube node --help`)
  }
}

function num(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt
}

/** The command for main.ts. */
export const module: CommandModule<NodeCommandArgs> = { command, describe, builder, handler }
