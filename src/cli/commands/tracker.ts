/**
 * `p2ptube tracker`: run a group's tracker (docs/TRACKER.md), or `p2ptube tracker status
 * --tracker H:P` to ask a running one. With --json the tracker prints one JSON event per line:
 * first {"event":"listening","id":"H:P","tracker":"<tracker id>",...}, then a "status" event
 * every --status-interval seconds and peer events.
 */
import type { Reachability } from '../../protocol/reach-messages.ts'
import os from 'node:os'
import path from 'node:path'
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { requestText } from '../../net/client.ts'
import { mdnsOptionsFromEnv } from '../../discovery/mdns.ts'
import {
  DEFAULT_ANNOUNCE_INTERVAL_MS,
  DEFAULT_TRACKER_PORT,
  MIN_ANNOUNCE_INTERVAL_MS,
  MSG,
  SEARCH_BURST,
  SEARCH_REFILL_PER_S,
  TRACKER_NAME_BYTES_MAX,
  TRACKER_NAME_BYTES_PER_HOST,
  TRACKER_NAMES_MAX,
  TRACKER_NAMES_PER_HOST
} from '../../protocol/constants.ts'
import { isWildcard, primaryAddress } from '../../net/address.ts'
import { formatPeerId, parsePeerId } from '../../protocol/messages.ts'
import { UsageError } from '../../protocol/errors.ts'
import { parseTrackerStatus, type TrackerStatus } from '../../protocol/tracker-messages.ts'
import { onShutdown } from '../common.ts'
import { formatBytes } from '../../text/format.ts'
import { safeText } from '../../text/safe-text.ts'
import { EXIT, Output } from '../output.ts'
import { sizeOption } from '../units.ts'

export const command = 'tracker [action]'
export const describe = "run a group's tracker (peer index, instant search), or ask one for its status"

export function builder(y: Argv) {
  return y
    .positional('action', { type: 'string', choices: ['run', 'status'] as const, default: 'run' as const, describe: 'run a tracker, or print the status of --tracker' })
    .option('port', { type: 'number', default: DEFAULT_TRACKER_PORT, describe: 'TCP port to listen on (0 = any free port)' })
    .option('host', { type: 'string', default: '::', describe: 'address to listen on (default: every interface, IPv6 and IPv4; 127.0.0.1 to keep it on this machine)' })
    .option('data', { type: 'string', describe: 'folder of the persistent store (default ~/.local/share/p2ptube/tracker)' })
    .option('announce-interval', { type: 'number', default: DEFAULT_ANNOUNCE_INTERVAL_MS / 1000, describe: "seconds between a node's announces (at least 1); a node expires after 3 missed" })
    .option('max-peers-per-host', { type: 'number', default: 64, describe: 'most peers online from one address (0 = unlimited)' })
    .option('max-names-per-host', {
      type: 'number',
      default: TRACKER_NAMES_PER_HOST,
      describe: `most names indexed for all peers of one address, and ${TRACKER_NAME_BYTES_PER_HOST / 1048576} MiB of them (0 = no per-address cap)`
    })
    .option('max-names', { type: 'number', default: TRACKER_NAMES_MAX, describe: `most names indexed in all, and ${TRACKER_NAME_BYTES_MAX / 1048576} MiB of them (0 = no cap)` })
    .option('search-rate', { type: 'number', default: SEARCH_REFILL_PER_S, describe: `searches (TFND/TWHO) per second from one address, bursts of ${SEARCH_BURST} (0 = unlimited)` })
    .option('mdns', { type: 'boolean', default: false, describe: 'publish the tracker on the LAN so `p2ptube --mdns` nodes find it' })
    .option('status-interval', { type: 'number', default: 10, describe: 'seconds between status checks; a line is logged when peers, files or searches changed (0 = none)' })
    .option('tracker', { type: 'string', describe: 'for `status`: the tracker host:port to ask (default: the one named in --group)' })
    .option('group', { type: 'string', describe: "for `status` of a private group's tracker: a member credential file (p2ptube group invite)" })
    .option('group-admin', { type: 'string', describe: 'private group: the admin data dir (p2ptube group init); members only, over mutual TLS' })
    .option('relay', { type: 'boolean', describe: 'relay for members that cannot be dialled (behind NAT); on by default with --group-admin, --no-relay to turn it off' })
    .option('relay-port', { type: 'number', describe: "the relay's data port (default: --port + 1, any free port when --port is 0)" })
    .option('relay-rate', sizeOption('relay-rate', 'bandwidth cap of the relay in bytes per second, all circuits together (0 = none)'))
    .option('relay-max-circuits', { type: 'number', describe: 'most relayed connections at once (default 128; 16 per peer)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' })
    .option('verbose', { type: 'boolean', default: false, describe: 'also print debug logs' })
    .example('$0 tracker --mdns', 'run a tracker for the LAN (nodes find it over mDNS)')
    .example('$0 tracker status --tracker 192.168.1.10:9410', 'peers online, files indexed, announces/s')
    .example('$0 tracker status --group alice.json', "the same for a private group's tracker (named in the credential)")
}

interface TrackerArgs {
  action: 'run' | 'status'
  port: number
  host: string
  data?: string
  'announce-interval': number
  'max-peers-per-host': number
  'max-names-per-host': number
  'max-names': number
  'search-rate': number
  mdns: boolean
  'status-interval': number
  tracker?: string
  'group-admin'?: string
  group?: string
  relay: boolean | undefined
  'relay-port': number | undefined
  'relay-rate': number
  'relay-max-circuits': number | undefined
  json: boolean
  verbose: boolean
}

/** How `tracker status` words a peer's reachability. */
const REACH_WORDS: Record<Reachability, string> = {
  direct: 'reachable directly',
  mapped: "reachable through its router's port mapping",
  unreachable: 'not dialable (reached by connection reversal)',
  unknown: 'not checked'
}

/** Index caps from the two flags: 0 lifts a scope's caps (names and bytes); bytes keep their defaults otherwise. */
function indexLimits(perHost: number, total: number): { namesPerHost: number; nameBytesPerHost: number; names: number; nameBytes: number } {
  for (const [flag, v] of [
    ['--max-names-per-host', perHost],
    ['--max-names', total]
  ] as const)
    if (!Number.isInteger(v) || v < 0) throw new UsageError(`${flag} must be a whole number ≥ 0, got ${v}`)
  return {
    namesPerHost: perHost,
    nameBytesPerHost: perHost ? TRACKER_NAME_BYTES_PER_HOST : 0,
    names: total,
    nameBytes: total ? TRACKER_NAME_BYTES_MAX : 0
  }
}

/** One status line for humans. */
export function statusLine(s: TrackerStatus): string {
  return `${s.peers} peers online, ${s.files} files indexed (${s.names} names), ${s.announcesPerSecond} announces/s, ${s.searches} searches, ${s.knownPeers} known peers, RSS ${formatBytes(s.rssBytes)}`
}

/** `run`: until SIGINT/SIGTERM (the store is snapshotted on the way out). `status`: exit 0, or 1 when unreachable. */
export async function handler(a: TrackerArgs): Promise<number> {
  const out = new Output(a.json)
  if (a.action === 'status') {
    // A group's tracker speaks only mutual TLS with members: dial it with a member credential.
    const cred = a.group ? (await import('../../group/credential.ts')).loadCredential(path.resolve(a.group)) : undefined
    const addr = a.tracker ?? cred?.trackers[0]
    if (!addr) throw new UsageError('tracker status needs --tracker H:P (or --group with a credential that names the tracker)')
    const transport = cred ? new (await import('../../group/node-group.ts')).NodeGroup(cred).transport : undefined
    let text: string
    try {
      text = await requestText(parsePeerId(addr), MSG.TSTA, '{}', transport ? { transport } : {})
    } catch (err) {
      const hint = cred ? '' : " (a private group's tracker answers members only: pass --group CREDENTIAL)"
      out.error(`tracker ${addr}: ${(err as Error).message}${hint}`, (err as { code?: string }).code)
      return EXIT.ERROR
    }
    const s = parseTrackerStatus(Buffer.from(text))
    out.event('status', { ...s })
    out.line(safeText(`tracker ${s.tracker} at ${addr}: ${statusLine(s)}, up ${Math.round(s.uptimeMs / 1000)} s`))
    // Per peer: how the tracker's dial-back check reached it (PROTOCOL.md §7.10).
    for (const r of s.reach ?? []) out.line(`  ${safeText(r.peer)}  ${REACH_WORDS[r.reach]}${r.control ? ', control connection open' : ''}`)
    const relay = relayLines(s)
    if (relay) out.line(relay)
    return EXIT.OK
  }
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`--port must be 0..65535, got ${a.port}`)
  if (!(a['announce-interval'] * 1000 >= MIN_ANNOUNCE_INTERVAL_MS)) throw new UsageError(`--announce-interval must be at least ${MIN_ANNOUNCE_INTERVAL_MS / 1000} s`)
  const relayOn = a.relay ?? Boolean(a['group-admin'])
  const relayPort = a['relay-port'] ?? (a.port === 0 ? 0 : a.port + 1)
  if (!Number.isInteger(relayPort) || relayPort < 0 || relayPort > 65535) throw new UsageError(`--relay-port must be 0..65535, got ${relayPort}`)
  if (!Number.isFinite(a['relay-rate']) || a['relay-rate'] < 0) throw new UsageError(`--relay-rate must be 0 or more bytes/s, got ${a['relay-rate']}`)
  const relay = relayOn ? { dataPort: relayPort, rate: a['relay-rate'], ...(a['relay-max-circuits'] ? { maxCircuits: a['relay-max-circuits'] } : {}) } : false
  // Loaded here, not at start-up of every command.
  const [{ createTracker }, { TrackerGroup }] = await Promise.all([import('../../tracker/create.ts'), import('../../group/tracker-group.ts')])
  const tracker = createTracker({
    host: a.host,
    port: a.port,
    dataDir: path.resolve(a.data ?? path.join(os.homedir(), '.local', 'share', 'p2ptube', 'tracker')),
    announceIntervalMs: Math.round(a['announce-interval'] * 1000),
    maxPeersPerHost: a['max-peers-per-host'],
    limits: indexLimits(a['max-names-per-host'], a['max-names']),
    searchRefillPerS: a['search-rate'],
    mdns: a.mdns ? mdnsOptionsFromEnv() : false,
    ...(a['group-admin'] ? { group: new TrackerGroup(path.resolve(a['group-admin'])) } : {}),
    relay
  })
  tracker.on('log', (l: { level: string; msg: string }) => {
    if (l.level !== 'debug' || a.verbose) out.info(l.msg, l.level)
  })
  for (const ev of ['peer-registered', 'peer-left', 'peer-expired']) tracker.on(ev, (id: string) => out.event(ev, { peer: id }))
  await tracker.start()
  const id = formatPeerId(isWildcard(a.host) ? primaryAddress() : a.host, tracker.port)
  const relayPortNow = tracker.relay?.dataPort ?? null
  out.event('listening', { id, host: a.host, port: tracker.port, tracker: tracker.id, knownPeers: tracker.knownPeers, interval: tracker.intervalMs, relay: relayPortNow })
  out.line(`${out.color.green('tracker')} ${out.color.bold(tracker.id)} listening on ${out.color.bold(id)}${relayPortNow ? `, relaying (data port ${relayPortNow})` : ''}`)
  tracker.relay?.on('circuit', (c: { to: string; bytes: number; end: string }) => out.event('relayed', { ...c }))
  let timer: NodeJS.Timeout | null = null
  if (a['status-interval'] > 0) {
    // Only changes are logged: a status with the same peers, files, names, searches and known
    // peers as the last one printed is skipped (rates and RSS alone do not make a new line).
    let last = ''
    timer = setInterval(() => {
      const s = tracker.status()
      const r = tracker.relay?.status()
      const key = `${s.peers} ${s.files} ${s.names} ${s.searches} ${s.knownPeers}${r ? ` ${r.reservations} ${r.spliced}` : ''}`
      if (key === last) return
      last = key
      out.event('status', { ...s, ...(r ? { relay: r } : {}) })
      if (!a.json) out.info(statusLine(s) + (r ? `, relay: ${r.reservations} reservations, ${r.spliced} circuits, ${formatBytes(r.bytesRelayed)} relayed` : ''))
    }, a['status-interval'] * 1000)
  }
  await new Promise<void>((resolve) => {
    onShutdown(async () => {
      if (timer) clearInterval(timer)
      await tracker.stop()
      resolve()
    })
  })
  return EXIT.OK
}

/** `tracker status` lines of the relay figures (PROTOCOL.md §7.8, §10.7); '' when there are none. */
export function relayLines(s: TrackerStatus): string {
  const lines: string[] = []
  const r = s.relay
  if (r) lines.push(`  relay: ${r.reservations} reservations, ${r.circuits} circuits (${r.spliced} spliced), ${formatBytes(r.bytesRelayed)} relayed, ${r.refused} requests refused`)
  const m = s.memberRelays
  if (m) lines.push(`  member relays: ${m.relays} registered, ${m.reserved} holders reserved on one`)
  return lines.join('\n')
}

/** The command for main.ts. */
export const module: CommandModule<TrackerArgs> = { command, describe, builder, handler }
