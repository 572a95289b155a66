/**
 * Payload codecs of the tracker messages (docs/PROTOCOL.md §7): UTF-8 JSON objects, every field
 * checked and every count capped, like the other extensions (§4). Pure functions; parsers throw
 * ProtocolError ERR_MALFORMED_PAYLOAD (or ERR_SPOOFED_ADDRESS, see parseRegister).
 */
import { MAX_ANNOUNCE_ENTRIES, MAX_CONTROL_REPLY, MAX_NAME_LENGTH, MAX_QUERY_LENGTH, TRACKER_HOLDERS_MAX, TRACKER_PEERS_DEFAULT, TRACKER_PEERS_MAX, TRACKER_RESULTS_MAX } from './constants.ts'
import { ProtocolError } from './errors.ts'
import { int, isContentId, parseJson, str } from './extension-messages.ts'
import { toMediaMeta, type MediaMeta } from './media-meta.ts'
import { malformed } from './peer-id.ts'
import { isPeerIdText, parseRelayFigures, peerIds, type TrackerRelayStatus } from './relay-messages.ts'

export { MAX_ANNOUNCED_RELAYS, type TrackerRelayStatus } from './relay-messages.ts'
import { parseReachList, type PeerReach } from './reach-messages.ts'

/** Kinds a tracker indexes; anything else is stored as 'other'. */
export const TRACKER_KINDS: ReadonlySet<string> = new Set(['video', 'audio', 'image', 'other'])

/** One library entry as announced: content id, name, size in bytes, kind, and its tags when known (§7.3). */
export interface AnnouncedFile {
  cid: string
  name: string
  size: number
  kind: string
  /** Tags, duration and format (PROTOCOL.md §4.3), cleaned by toMediaMeta; absent when none. */
  meta?: MediaMeta
}

/** TREG request (§7.2). The host is never in the payload: the tracker takes it from the socket. */
export interface Register {
  /** The node's listening port. */
  port: number
  /** Features the node speaks (CAPS names), informative. */
  features?: string[]
}

/** TREG reply: the peer id the tracker gave the node, and the timing it must keep (ms). */
export interface RegisterReply {
  peer: string
  interval: number
  expiry: number
  tracker: string
}

/** TANN request (§7.3): apply `add`/`remove` to version `base`, giving version `seq`. */
export interface Announce {
  port: number
  /** Version the delta applies to; 0 = from an empty library (a full resend). */
  base: number
  /** Version after applying; equal to `base` for a heartbeat without changes. */
  seq: number
  add: AnnouncedFile[]
  remove: string[]
  /** Member relays (peer ids) this node holds a reservation on (optional, PROTOCOL.md §10.7). */
  relays?: string[]
}

/**
 * TANN reply: `ok` with the version now held (and, optionally, member relays the tracker found
 * dialable, §10.7), or `resync` (send again from base 0) or `register` (TREG first).
 */
export type AnnounceReply = { ok: true; seq: number; interval: number; relays?: string[] } | { resync: true; have: number } | { register: true }

/** TFND result: one name of one content id, with how many peers hold it and a few of them. */
export interface TrackerHit extends AnnouncedFile {
  holders: number
  peers: string[]
  /** Those of `peers` the tracker's dial-back check could not dial (§7.10): reach them by reversal. */
  unreachable?: string[]
  /** Those of `peers` reached through the tracker's relay (optional, PROTOCOL.md §10.6). */
  relayed?: string[]
  /** Those of `peers` reached through a member's relay: peer id → the relay's peer id (optional, §10.7). */
  via?: Record<string, string>
}

/** TSTA reply (§7.8); rates per second, sizes in bytes, times in ms. */
export interface TrackerStatus {
  tracker: string
  uptimeMs: number
  peers: number
  files: number
  names: number
  announces: number
  announcesPerSecond: number
  searches: number
  rejected: number
  rssBytes: number
  knownPeers: number
  interval: number
  /** Per peer: the dial-back check's result and its control connection (§7.10; at most 100). */
  reach?: PeerReach[]
  /** The tracker's own relay (§10), when it relays: reservations and circuits now, bytes and refusals since start. */
  relay?: TrackerRelayStatus
  /** Member relays (§10.7), when any registered: how many, and holders reserved on one. */
  memberRelays?: { relays: number; reserved: number }
}

function portOf(o: Record<string, unknown>, what: string): number {
  return int(o, 'port', what, 1, 65535)
}

/**
 * @param socketHost the connection's address: a payload naming another host is refused.
 * @throws ProtocolError ERR_MALFORMED_PAYLOAD, ERR_SPOOFED_ADDRESS (a `host` field that is not the socket's).
 */
export function parseRegister(payload: Buffer, socketHost: string): Register {
  const o = parseJson(payload, 'TREG')
  checkHost(o, socketHost, 'TREG')
  const r: Register = { port: portOf(o, 'TREG') }
  if (Array.isArray(o.features)) r.features = o.features.filter((f): f is string => typeof f === 'string' && f.length <= 16).slice(0, 32)
  return r
}

function checkHost(o: Record<string, unknown>, socketHost: string, what: string): void {
  if (o.host === undefined || o.host === socketHost) return
  throw new ProtocolError('ERR_SPOOFED_ADDRESS', `${what}: a peer registers its own address only (the tracker takes it from the connection, ${socketHost})`)
}

export function formatRegister(r: Register): string {
  return JSON.stringify(r)
}

/** TREG reply: `{ peer, interval, expiry, tracker }` (times in ms). */
export function formatRegisterReply(r: RegisterReply): string {
  return JSON.stringify({ peer: r.peer, interval: r.interval, expiry: r.expiry, tracker: r.tracker })
}

/** @throws ProtocolError */
export function parseRegisterReply(payload: Buffer): RegisterReply {
  const o = parseJson(payload, 'TREG reply')
  return {
    peer: str(o, 'peer', 'TREG reply', 300),
    interval: int(o, 'interval', 'TREG reply', 1, 86_400_000),
    expiry: int(o, 'expiry', 'TREG reply', 1, 86_400_000 * 3),
    tracker: str(o, 'tracker', 'TREG reply', 64)
  }
}

/** One announced file. @throws ProtocolError */
export function parseAnnouncedFile(x: unknown, what = 'TANN'): AnnouncedFile {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw malformed(`${what}: file must be an object`)
  const f = x as Record<string, unknown>
  const cid = str(f, 'cid', what, 64)
  if (!isContentId(cid)) throw malformed(`${what}: "cid" must be 64 lowercase hex digits`)
  const name = str(f, 'name', what, MAX_NAME_LENGTH)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw malformed(`${what}: "name" has control characters`)
  const kind = typeof f.kind === 'string' && TRACKER_KINDS.has(f.kind) ? f.kind : 'other'
  const meta = toMediaMeta(f.meta)
  return { cid, name, size: int(f, 'size', what, 0, Number.MAX_SAFE_INTEGER), kind, ...(meta ? { meta } : {}) }
}

/**
 * @throws ProtocolError ERR_MALFORMED_PAYLOAD: not JSON, a bad field, more than
 *   MAX_ANNOUNCE_ENTRIES adds or removes, `seq` below `base`, or changes in a heartbeat.
 */
export function parseAnnounce(payload: Buffer, socketHost: string): Announce {
  const o = parseJson(payload, 'TANN')
  checkHost(o, socketHost, 'TANN')
  const base = int(o, 'base', 'TANN', 0, Number.MAX_SAFE_INTEGER)
  const seq = int(o, 'seq', 'TANN', base, Number.MAX_SAFE_INTEGER)
  const addRaw = o.add ?? []
  const removeRaw = o.remove ?? []
  if (!Array.isArray(addRaw) || addRaw.length > MAX_ANNOUNCE_ENTRIES) throw malformed(`TANN: "add" must be an array of at most ${MAX_ANNOUNCE_ENTRIES}`)
  if (!Array.isArray(removeRaw) || removeRaw.length > MAX_ANNOUNCE_ENTRIES) throw malformed(`TANN: "remove" must be an array of at most ${MAX_ANNOUNCE_ENTRIES}`)
  const add = addRaw.map((x) => parseAnnouncedFile(x))
  const remove = removeRaw.map((c) => {
    if (typeof c !== 'string' || !isContentId(c)) throw malformed('TANN: "remove" holds content ids')
    return c
  })
  if (seq === base && (add.length || remove.length) && base !== 0) throw malformed('TANN: a change must advance "seq"')
  const a: Announce = { port: portOf(o, 'TANN'), base, seq, add, remove }
  if (o.relays !== undefined) a.relays = peerIds(o.relays, 'TANN "relays"')
  return a
}

export function formatAnnounce(a: Announce): string {
  const o: Record<string, unknown> = { port: a.port, base: a.base, seq: a.seq }
  if (a.add.length) o.add = a.add
  if (a.remove.length) o.remove = a.remove
  // An empty list is sent too: the node held a member relay reservation and lost it.
  if (a.relays) o.relays = a.relays
  return JSON.stringify(o)
}

/**
 * TANN reply: the index's answer (`ok`+`seq` gets the announce `interval` in ms added; `resync`
 * and `register` travel as they are).
 */
export function formatAnnounceReply(r: { ok: true; seq: number } | { resync: true; have: number } | { register: true }, intervalMs: number, relays: readonly string[] = []): string {
  return JSON.stringify('ok' in r ? { ...r, interval: intervalMs, ...(relays.length ? { relays } : {}) } : r)
}

/** @throws ProtocolError */
export function parseAnnounceReply(payload: Buffer): AnnounceReply {
  const o = parseJson(payload, 'TANN reply')
  if (o.register === true) return { register: true }
  if (o.resync === true) return { resync: true, have: int(o, 'have', 'TANN reply', 0, Number.MAX_SAFE_INTEGER) }
  if (o.ok === true) {
    const r: AnnounceReply = { ok: true, seq: int(o, 'seq', 'TANN reply', 0, Number.MAX_SAFE_INTEGER), interval: int(o, 'interval', 'TANN reply', 1, 86_400_000) }
    if (o.relays !== undefined) r.relays = peerIds(o.relays, 'TANN reply "relays"')
    return r
  }
  throw malformed('TANN reply: needs "ok", "resync" or "register"')
}

/** TBYE / TPRS carry the sender's port (TPRS: optional, to leave the asker out) and a count. */
export function parsePortRequest(payload: Buffer, what: string, required: boolean): { port?: number; max: number } {
  const o = payload.length ? parseJson(payload, what) : {}
  const r: { port?: number; max: number } = { max: TRACKER_PEERS_DEFAULT }
  if (o.port !== undefined || required) r.port = portOf(o, what)
  if (o.max !== undefined) r.max = int(o, 'max', what, 1, TRACKER_PEERS_MAX)
  return r
}

/** TBYE reply: `{ ok: true, removed }`, removed = whether the peer was registered. */
export function formatByeReply(removed: boolean): string {
  return JSON.stringify({ ok: true, removed })
}

/** TPRS reply: `{ peers: [peer id...] }`. */
export function formatPeerList(peers: readonly string[]): string {
  return JSON.stringify({ peers })
}

/** TPRS reply: peer ids. @throws ProtocolError */
export function parsePeerList(payload: Buffer): string[] {
  const o = parseJson(payload, 'TPRS reply')
  if (!Array.isArray(o.peers) || o.peers.length > TRACKER_PEERS_MAX) throw malformed(`TPRS reply: "peers" must be an array of at most ${TRACKER_PEERS_MAX}`)
  return o.peers.map((p) => {
    if (typeof p !== 'string' || p.length > 300) throw malformed('TPRS reply: peer ids are strings')
    return p
  })
}

/** TWHO request. @throws ProtocolError */
export function parseWho(payload: Buffer): { cid: string; max: number } {
  const o = parseJson(payload, 'TWHO')
  const cid = str(o, 'cid', 'TWHO', 64)
  if (!isContentId(cid)) throw malformed('TWHO: "cid" must be 64 lowercase hex digits')
  return { cid, max: o.max === undefined ? TRACKER_HOLDERS_MAX : int(o, 'max', 'TWHO', 1, TRACKER_HOLDERS_MAX) }
}

/** TFND request: words (all must occur in a name, case-insensitive). @throws ProtocolError */
export function parseFind(payload: Buffer): { q: string; max: number } {
  const o = parseJson(payload, 'TFND')
  const q = str(o, 'q', 'TFND', MAX_QUERY_LENGTH)
  if (!q.trim()) throw malformed('TFND: empty query')
  return { q, max: o.max === undefined ? TRACKER_RESULTS_MAX : int(o, 'max', 'TFND', 1, TRACKER_RESULTS_MAX) }
}

/**
 * TFND and TWHO replies: `{ results }` (TFND: `partial: true` when the search's work budget ran
 * out), kept under what a requester buffers (MAX_CONTROL_REPLY,
 * less 256 bytes of slack) by dropping the last results, 20 % at a time.
 * @param budget largest reply in bytes.
 */
export function formatHitList(
  results: readonly TrackerHit[],
  budget = MAX_CONTROL_REPLY - 256,
  partial = false,
  relayed?: (peer: string) => boolean,
  via?: (peer: string) => string | undefined
): string {
  if (relayed) {
    results = results.map((h) => {
      const r = h.peers.filter(relayed)
      return r.length ? { ...h, relayed: r } : h
    })
  }
  if (via) {
    results = results.map((h) => {
      const v: Record<string, string> = {}
      for (const p of h.peers) {
        const relay = h.relayed?.includes(p) ? undefined : via(p)
        if (relay) v[p] = relay
      }
      return Object.keys(v).length ? { ...h, via: v } : h
    })
  }
  // `partial` (TFND, §7.7): the search ran out of its work budget; absent when false.
  const wrap = (r: readonly TrackerHit[]): string => JSON.stringify(partial ? { results: r, partial } : { results: r })
  let text = wrap(results)
  while (Buffer.byteLength(text) > budget && results.length) {
    results = results.slice(0, Math.floor(results.length * 0.8))
    text = wrap(results)
  }
  return text
}

/** TFND and TWHO replies: results (TWHO: one per name of the content id). @throws ProtocolError */
export function parseHitList(payload: Buffer, what: string): TrackerHit[] {
  const o = parseJson(payload, what)
  if (!Array.isArray(o.results) || o.results.length > TRACKER_RESULTS_MAX) throw malformed(`${what}: "results" must be an array of at most ${TRACKER_RESULTS_MAX}`)
  return o.results.map((x) => {
    const f = parseAnnouncedFile(x, what)
    const r = x as Record<string, unknown>
    const holders = int(r, 'holders', what, 0, Number.MAX_SAFE_INTEGER)
    if (!Array.isArray(r.peers) || r.peers.length > TRACKER_HOLDERS_MAX) throw malformed(`${what}: "peers" must be an array of at most ${TRACKER_HOLDERS_MAX}`)
    const peers = r.peers.filter((p): p is string => typeof p === 'string' && p.length <= 300)
    const unreachable = Array.isArray(r.unreachable) ? r.unreachable.filter((p): p is string => typeof p === 'string' && peers.includes(p)) : []
    const relayed = Array.isArray(r.relayed) ? r.relayed.filter((p): p is string => typeof p === 'string' && peers.includes(p)) : []
    // `via` (§10.7): only holders of this hit, only relays that parse as peer ids; the rest is ignored.
    const via: Record<string, string> = {}
    if (typeof r.via === 'object' && r.via !== null && !Array.isArray(r.via)) {
      for (const [p, relay] of Object.entries(r.via as Record<string, unknown>)) if (peers.includes(p) && typeof relay === 'string' && isPeerIdText(relay)) via[p] = relay
    }
    return { ...f, holders, peers, ...(unreachable.length ? { unreachable } : {}), ...(relayed.length ? { relayed } : {}), ...(Object.keys(via).length ? { via } : {}) }
  })
}

/** TSTA reply: the status object as JSON. */
export function formatTrackerStatus(s: TrackerStatus): string {
  return JSON.stringify(s)
}

/** @throws ProtocolError */
export function parseTrackerStatus(payload: Buffer): TrackerStatus {
  const o = parseJson(payload, 'TSTA reply')
  const n = (k: string): number => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : 0)
  return {
    tracker: typeof o.tracker === 'string' ? o.tracker.slice(0, 64) : '?',
    uptimeMs: n('uptimeMs'),
    peers: n('peers'),
    files: n('files'),
    names: n('names'),
    announces: n('announces'),
    announcesPerSecond: n('announcesPerSecond'),
    searches: n('searches'),
    rejected: n('rejected'),
    rssBytes: n('rssBytes'),
    knownPeers: n('knownPeers'),
    interval: n('interval'),
    ...(Array.isArray(o.reach) ? { reach: parseReachList(o.reach) ?? [] } : {}),
    ...parseRelayFigures(o)
  }
}
