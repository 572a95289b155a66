/**
 * Options shared by the commands that run a node, and the pieces they share: building the node,
 * joining bootstrap peers, clean shutdown on Ctrl-C/SIGTERM, and fetch (+ play) with progress.
 */
import path from 'node:path'
import type { Argv } from 'yargs'
import { P2PNode, type NodeOptions, type SearchResult } from '../app/node.ts'
import type { Download, DownloadResult } from '../node/download.ts'
import { playDownload, type PlayingDownload } from '../media/play-download.ts'
import { mdnsOptionsFromEnv } from '../discovery/mdns.ts'
import { portMappingOptionsFromEnv } from '../discovery/port-mapping.ts'
import { MpvPlayer } from '../player/mpv-player.ts'
import { parsePeerId } from '../protocol/messages.ts'
import { P2PTubeError, UsageError } from '../protocol/errors.ts'
import { loadCredential } from '../group/credential.ts'
import { formatBytes } from '../text/format.ts'
import { safeText } from '../text/safe-text.ts'
import { cutToWidth } from './columns.ts'
import { sizeOption } from './units.ts'
import { p2ptubeDirs } from '../app/dirs.ts'
import type { Output } from './output.ts'
import type { Profile } from './profile.ts'
import { RepeatFilter } from './service-log.ts'

/**
 * A one-shot search ends this long after answers stop coming, ms, and at least as long as the
 * answers took so far (FloodSearch untilQuietMs); `--timeout` stays the bound.
 */
export const QUIET_MS = 500

/**
 * A download whose holders are all gone is tried again after each of these waits, ms (1 s, 2 s,
 * 4 s: a holder restarting comes back), before the fetch fails (exit 3, the partial kept).
 */
export const RETRY_BACKOFF_MS = [1000, 2000, 4000]

/** Parsed node options (see nodeOptions). */
export interface NodeArgs {
  port: number
  host: string | undefined
  listen: string | undefined
  advertise: string | undefined
  share: string[]
  peer: string[]
  maxpeers: number
  minpeers: number
  'max-peers-per-host': number
  hops: number
  downloads: string | undefined
  'rate-limit': number
  data: string | undefined
  json: boolean
  verbose: boolean
  'player-args': string | undefined
  tracker: string | undefined
  mdns: boolean
  'port-mapping': boolean
  group: string | undefined
  relay: boolean
  'relay-via': string[]
  'relay-rate': number
}

/**
 * Options a one-shot command (search, fetch) accepts but does not use: its node only asks, it
 * serves nobody; they are hidden from its --help (still accepted, so a shared config applies).
 */
const SERVING_OPTIONS = ['port', 'host', 'listen', 'advertise', 'share', 'maxpeers', 'minpeers', 'max-peers-per-host', 'rate-limit', 'port-mapping', 'relay', 'relay-rate']

/** Add the options every node-running command takes; `oneShot` hides SERVING_OPTIONS from --help. */
export function nodeOptions<T>(y: Argv<T>, oneShot = false) {
  const all = nodeOptionsAll(y)
  return oneShot ? SERVING_OPTIONS.reduce((z, k) => z.hide(k), all) : all
}

function nodeOptionsAll<T>(y: Argv<T>) {
  return y
    .option('port', { type: 'number', default: 0, describe: 'TCP port to listen on (0 = any free port)' })
    .option('host', { type: 'string', describe: 'one address to listen on AND advertise (overrides --listen and --advertise); default: listen everywhere, advertise the address each peer reaches' })
    .option('listen', { type: 'string', describe: 'address to listen on (default: every interface, IPv6 and IPv4)' })
    .option('advertise', { type: 'string', describe: "host to put in this node's peer id for everybody (a public name or address); default: the address of the interface that reaches each peer" })
    .option('share', { type: 'string', array: true, default: [] as string[], describe: 'folder or file to share (repeatable); videos, audio and images are indexed recursively' })
    .option('peer', { type: 'string', array: true, default: [] as string[], describe: 'known peer host:port to join through (repeatable)' })
    .option('maxpeers', { type: 'number', default: 12, describe: 'most neighbours, the high water mark: JOINs are accepted up to it (0 = unlimited)' })
    .option('minpeers', {
      type: 'number',
      default: 4,
      describe: 'neighbours to keep, the low water mark: joining stops there, and the node dials more when neighbours leave (0 = fill the table, no repair)'
    })
    .option('max-peers-per-host', { type: 'number', default: 4, describe: "most neighbours with one IP address (0 = unlimited; this machine's own addresses are not limited)" })
    .option('hops', { type: 'number', default: 2, describe: 'how deep to crawl peer lists when joining' })
    .option('downloads', { type: 'string', describe: 'folder for fetched files (default $XDG_DOWNLOAD_DIR/p2ptube, else ~/Downloads/p2ptube)' })
    .option('rate-limit', sizeOption('rate-limit', 'upload cap in bytes per second (0 = none)'))
    .option('data', { type: 'string', describe: "one folder for this node's state and content id cache (default: state in $XDG_DATA_HOME/p2ptube, cache in $XDG_CACHE_HOME/p2ptube)" })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'search, fetch: also print status lines on stderr; every command: debug logs' })
    .option('player-args', { type: 'string', describe: 'extra mpv flags, space-separated (e.g. "--volume=50")' })
    .option('tracker', { type: 'string', describe: 'tracker host:port: register, bootstrap from it and search it first' })
    .option('mdns', { type: 'boolean', default: false, describe: 'find peers and a tracker on the LAN over mDNS (and publish this node)' })
    .option('port-mapping', {
      type: 'boolean',
      default: true,
      describe: 'ask the home router for a public port (UPnP, NAT-PMP) so peers on the internet can reach this node; --no-port-mapping to not (never done by search and fetch)'
    })
    .option('group', { type: 'string', describe: 'private group credential file (p2ptube group invite): speak only encrypted, authenticated connections with members' })
    .option('relay', { type: 'boolean', default: false, describe: 'relay for members that cannot be dialled (for a node with a public address; docs/NETWORK.md)' })
    .option('relay-via', { type: 'string', array: true, default: [] as string[], describe: 'relay host:port to stay reachable through and to reach others through (repeatable)' })
    .option('relay-rate', sizeOption('relay-rate', 'with --relay: bandwidth cap of the relay in bytes per second (0 = none)'))
}

/** Validate node options. @throws Error with a clear message (exit 2). */
export function checkNodeArgs(a: NodeArgs): void {
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`--port must be 0..65535, got ${a.port}`)
  if (!Number.isInteger(a.maxpeers) || a.maxpeers < 0) throw new UsageError(`--maxpeers must be 0 or more, got ${a.maxpeers}`)
  if (!Number.isInteger(a.minpeers) || a.minpeers < 0) throw new UsageError(`--minpeers must be 0 or more, got ${a.minpeers}`)
  if (!Number.isInteger(a['max-peers-per-host']) || a['max-peers-per-host'] < 0) throw new UsageError(`--max-peers-per-host must be 0 or more, got ${a['max-peers-per-host']}`)
  if (!Number.isInteger(a.hops) || a.hops < 0 || a.hops > 10) throw new UsageError(`--hops must be 0..10, got ${a.hops}`)
  if (!Number.isFinite(a['rate-limit']) || a['rate-limit'] < 0) throw new UsageError(`--rate-limit must be 0 or more bytes/s, got ${a['rate-limit']}`)
  for (const p of a.peer) parsePeerId(p)
  for (const p of a['relay-via'] ?? []) parsePeerId(p)
  if (!Number.isFinite(a['relay-rate'] ?? 0) || (a['relay-rate'] ?? 0) < 0) throw new UsageError(`--relay-rate must be 0 or more bytes/s, got ${a['relay-rate']}`)
  if (a.tracker !== undefined) parsePeerId(a.tracker)
}

/**
 * Build (not start) a node from CLI options and route its logs to `out`. With a `profile`
 * (profile.ts) its cache and state are the profile's.
 */
export function makeNode(a: NodeArgs, out: Output, overrides: Partial<NodeOptions> = {}, profile?: Profile): P2PNode {
  const node = new P2PNode({ ...nodeOptionsFrom(a, profile), ...overrides })
  const repeats = new RepeatFilter() // a run of identical lines is logged once, then counted
  node.on('log', (l: { level: string; msg: string }) => {
    if (l.level === 'debug' && !a.verbose) return
    for (const x of repeats.filter(l.level, l.msg)) out.info(x.msg, x.level)
  })
  return node
}

/**
 * Node options from CLI options (shared by `node`, `search`, `fetch` and the TUI). The cache is
 * the profile's when one is given (null when another process owns it), else --data or the XDG one.
 * @throws the credential loader's errors for a bad --group file.
 */
export function nodeOptionsFrom(a: NodeArgs, profile?: Profile): NodeOptions {
  // A group credential names the group's tracker when --tracker is not given.
  const group = a.group ? loadCredential(path.resolve(a.group)) : undefined
  const tracker = a.tracker ?? group?.trackers[0]
  return {
    ...(a.host ? { host: a.host } : {}),
    ...(a.listen ? { listen: a.listen } : {}),
    ...(a.advertise ? { advertise: a.advertise } : {}),
    port: a.port,
    maxPeers: a.maxpeers,
    minPeers: a.minpeers,
    maxPeersPerHost: a['max-peers-per-host'],
    hops: a.hops,
    shares: a.share,
    downloadsDir: path.resolve(a.downloads ?? p2ptubeDirs().downloads),
    rateLimit: a['rate-limit'],
    dataDir: profile ? profile.cacheDir : path.resolve(a.data ?? p2ptubeDirs().cache),
    ...(profile?.state ? { state: profile.state } : {}),
    ...(tracker ? { tracker } : {}),
    ...(group ? { group } : {}),
    ...(a.mdns ? { mdns: mdnsOptionsFromEnv() } : {}),
    portMapping: a['port-mapping'] ? portMappingOptionsFromEnv() : false,
    relay: { ...(a.relay ? { serve: { rate: a['relay-rate'] ?? 0 } } : {}), via: a['relay-via'] ?? [] }
  }
}

/**
 * Join every --peer; a peer that cannot be reached is reported, not fatal. `parallel`: all at once
 * (remembered peers, some of them gone: each costs its own connect timeout, not the sum).
 * `hops`: how deep to crawl from each (default the node's --hops; 1 joins the peers only, e.g. a
 * fetch by content id from a known holder, which needs no crawl). `withinMs`: a peer that has
 * not answered by then counts as unreachable (a one-shot command's --timeout; e.g. an HTTP
 * server on that port, which never answers; the join goes on until the node stops).
 * @returns peers added.
 */
export async function joinAll(node: P2PNode, peers: string[], out: Output, parallel = false, hops?: number, withinMs?: number): Promise<number> {
  if (parallel) return (await Promise.all(peers.map((p) => joinAll(node, [p], out, false, hops, withinMs)))).reduce((x, y) => x + y, 0)
  let added = 0
  for (const p of peers) {
    let timer: NodeJS.Timeout | undefined
    try {
      const join = node.join(p, hops)
      if (withinMs === undefined) added += await join
      else {
        join.catch(() => {}) // settles after the bound: nobody listens then
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no p2ptube answer within ${withinMs / 1000} s (--timeout)`)), withinMs)))
        added += await Promise.race([join, late])
      }
    } catch (err) {
      out.info(`cannot join ${p}: ${(err as Error).message}`, 'warn')
    } finally {
      clearTimeout(timer)
    }
  }
  return added
}

/**
 * After a long-running node started: note its port in the state folder's lock (one-shot commands
 * join it), rejoin the remembered peers and resume the saved transfers (app/state.ts).
 * @returns the resumed downloads and the joins' promise (number of peers added).
 */
export function resumeState(node: P2PNode, profile: Profile): ReturnType<NonNullable<Profile['state']>['resume']> | null {
  if (!profile.state) return null
  void profile.lock?.update({ port: node.port })
  return profile.state.resume(node)
}

/**
 * Wait for discovery before a one-shot search or fetch: mDNS sightings (the first one, then
 * `graceMs` for the joins and for more, at most `maxMs`), then the tracker's bootstrap.
 */
export async function awaitDiscovery(node: P2PNode, maxMs = 3000, graceMs = 500): Promise<void> {
  const mdns = node.mdns
  if (mdns) {
    await new Promise<void>((resolve) => {
      const cap = setTimeout(resolve, maxMs)
      const onFound = (): void => {
        mdns.off('found', onFound)
        clearTimeout(cap)
        setTimeout(resolve, graceMs)
      }
      if (mdns.found().length) onFound()
      else mdns.on('found', onFound)
    })
  }
  await node.tracker?.ready
}

/**
 * Run `fn` once on SIGINT/SIGTERM (then exit with `code`); returns a function that removes the
 * handlers. A second Ctrl-C exits at once.
 */
export function onShutdown(fn: (signal: string) => Promise<void>): () => void {
  let stopping = false
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130)
    stopping = true
    fn(signal).then(
      () => process.exit(signal === 'SIGINT' ? 130 : 0),
      () => process.exit(1)
    )
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}

/** Split "--a --b=1" into mpv arguments (early-player.ts, which main.ts loads before any command). */
export { splitPlayerArgs } from './early-player.ts'

/** What fetchAndMaybePlay reports. Times in ms since the fetch started. */
export interface FetchReport extends DownloadResult {
  firstFrameMs?: number
  /** Bytes downloaded when mpv showed its first frame. */
  receivedAtFirstFrame?: number
  /** mpv's playback position (s) seen before the download finished, if any. */
  positionBeforeDone?: number
}

/** Options of fetchAndMaybePlay. */
export interface FetchOptions {
  dir?: string
  play?: boolean
  playerArgs?: string[]
  headless?: boolean
  stopPlayback?: 'end' | 'download-done'
  /** A player started ahead of time (spawning mpv takes 120-300 ms), with its start(); it is quit at the end. */
  player?: MpvPlayer
  playerReady?: Promise<void>
  /** More holders of the same content id (multi-source). */
  holders?: string[]
  /** Called with the download as soon as it exists (e.g. to add holders that answer later). */
  onDownload?(d: Download): void
  /** Waits before each new attempt when every holder is gone (ERR_NO_SOURCES), ms; default RETRY_BACKOFF_MS. Not with `play`. */
  retryBackoffMs?: number[]
  /** Called with the player once it plays (e.g. to take pause/seek commands). */
  onPlayer?(p: MpvPlayer, d: Download): void
}

/**
 * Download a search result with progress output, optionally playing it in mpv while it
 * downloads (through a loopback StreamServer).
 * @param play when set, mpv is started and the promise resolves after the download is done and
 *   mpv has ended the file (or `playFor` ms of playback passed).
 * @throws the Download's errors (IntegrityError, RemoteError...), MpvNotInstalledError.
 */
export async function fetchAndMaybePlay(node: P2PNode, r: SearchResult, out: Output, opts: FetchOptions = {}): Promise<FetchReport> {
  const d = node.fetch({ ...r, ...(opts.holders ? { holders: opts.holders } : {}), ...(opts.dir ? { dir: opts.dir } : {}) })
  opts.onDownload?.(d)
  d.on('source-dropped', (id: string, reason: string) => out.info(`dropped holder ${id} from this download: ${reason}`, 'warn'))
  const t0 = performance.now()
  const report: Partial<FetchReport> = {}
  let player: MpvPlayer | null = null
  let playing: PlayingDownload | null = null
  const progress = reportProgress(d, out, t0)
  const retried: Array<Download | { stop(): void }> = [] // downloads of later attempts, and their progress
  try {
    if (opts.play) {
      player = opts.player ?? new MpvPlayer({ playerArgs: opts.playerArgs ?? [], ...(opts.headless !== undefined ? { headless: opts.headless } : {}), audioOnly: r.kind === 'audio' })
      // The download starts at once: the first pieces arrive while mpv is still starting.
      const started = d.start()
      started.catch(() => {}) // awaited below; a failure while mpv loads must not go unhandled
      const p = player
      p.once('playback-restart', () => {
        report.firstFrameMs = Math.round(performance.now() - t0)
        report.receivedAtFirstFrame = d.received
        out.info(`mpv: first frame after ${report.firstFrameMs} ms, ${formatBytes(d.received)} of ${formatBytes(d.size)} downloaded`)
        out.event('playing', { firstFrameMs: report.firstFrameMs, received: d.received, size: d.size ?? null })
      })
      p.on('position', (s: number) => {
        if (s > 0 && d.state === 'downloading' && report.positionBeforeDone === undefined) {
          report.positionBeforeDone = s
          out.info(`mpv: playing at ${s.toFixed(2)} s while the download is at ${pct(d)}`)
          out.event('position', { seconds: s, received: d.received, size: d.size ?? null, downloading: true })
        }
      })
      playing = await playDownload(d, p, opts.player ? (opts.playerReady ?? Promise.resolve()) : undefined)
      opts.onPlayer?.(p, d)
      const result = await started
      progress.stop()
      if (p.running && opts.stopPlayback !== 'download-done') {
        out.line(`download finished: ${safeText(result.path)} (${formatBytes(result.size)}), still playing; quit mpv to end`)
        out.event('downloaded', { path: result.path, size: result.size, sha256: result.sha256 })
      }
      if (opts.stopPlayback !== 'download-done') {
        await new Promise<void>((resolve) => {
          if (!p.running) return resolve()
          p.once('end', () => resolve())
          p.once('exit', () => resolve())
        })
      }
      Object.assign(report, result)
    } else {
      // A holder that disappears: tried again with back-off (it may be restarting), then the error.
      let current = d
      for (let attempt = 0; ; attempt++) {
        try {
          Object.assign(report, await current.start())
          break
        } catch (err) {
          const backoff = opts.retryBackoffMs ?? RETRY_BACKOFF_MS
          const code = (err as { code?: string }).code
          // After the first 'no holder left', a new attempt fails on the holder's own error (refused...).
          const gone = code === 'ERR_NO_SOURCES' || (attempt > 0 && code !== 'ERR_INTEGRITY' && code !== 'ERR_ABORTED')
          if (!gone) throw err
          if (attempt >= backoff.length) throw new P2PTubeError('ERR_NO_SOURCES', `no holder left after ${attempt + 1} attempts (${(err as Error).message})`)
          out.info(`${(err as Error).message}; trying again in ${backoff[attempt]! / 1000} s (${attempt + 1} of ${backoff.length})`, 'warn')
          await new Promise((resolve) => setTimeout(resolve, backoff[attempt]))
          if (current !== d) await current.close()
          for (const h of [r.holder, ...(opts.holders ?? [])]) await node.join(h, 1).catch(() => 0)
          current = node.fetch({ ...r, ...(opts.holders ? { holders: opts.holders } : {}), ...(opts.dir ? { dir: opts.dir } : {}) })
          opts.onDownload?.(current)
          retried.push(current)
          retried.push(reportProgress(current, out, performance.now()))
        }
      }
    }
    return report as FetchReport
  } finally {
    progress.stop()
    await player?.quit().catch(() => {})
    await playing?.stop()
    for (const x of retried) await ('stop' in x ? x.stop() : x.close())
    await d.close()
  }
}

function pct(d: Download): string {
  return d.size ? `${((d.received / d.size) * 100).toFixed(0)}%` : formatBytes(d.received)
}

function reportProgress(d: Download, out: Output, t0: number): { stop(): void } {
  let last = 0
  const onProgress = (): void => {
    const t = performance.now()
    if (t - last < 250) return
    last = t
    const secs = (t - t0) / 1000
    const rate = d.receivedThisRun / Math.max(secs, 0.001)
    const eta = d.size && rate > 0 ? Math.max(0, (d.size - d.received) / rate) : null
    // One line that fits the terminal: the name is cut (by display width) to leave room for the figures.
    const figures = `  ${pct(d)}  ${formatBytes(d.received)}/${formatBytes(d.size)}  ${formatBytes(rate)}/s${eta !== null ? `  ETA ${eta.toFixed(0)} s` : ''}`
    out.progress(cutToWidth(safeText(d.fileName), out.errColumns - 1 - figures.length) + figures)
    out.event('progress', { name: d.name, received: d.received, size: d.size ?? null, bytesPerSecond: Math.round(rate) })
  }
  d.on('progress', onProgress)
  d.once('resumed', (n: number) => out.info(`resuming ${d.fileName} with ${formatBytes(n)} already downloaded`))
  return {
    stop() {
      d.off('progress', onProgress)
      out.progressDone()
    }
  }
}

/** Pick the best result for a fetch target: exact content id, exact name, then the first. */
export function pickResult(results: SearchResult[], target: string): SearchResult | undefined {
  return results.find((r) => r.contentId === target) ?? results.find((r) => r.name === target) ?? results.find((r) => r.name.endsWith('/' + target)) ?? results[0]
}
