/**
 * The message table: one row per message type, everything the code needs to know about a type
 * (docs/PROTOCOL.md §2 limits, §3 legacy, §4 extensions, §7 tracker, §8 group). Pure data and
 * pure lookups: no I/O here. Models: hypercore's message table, libp2p's `registrar.handle` with
 * per-protocol limits.
 *
 * To add a message type:
 *   1. its 4-letter name in MSG (constants.ts) and its row below: tsc refuses one without the
 *      other (`satisfies Record<MsgType, MessageRow>`);
 *   2. its handler: src/handlers/<type>.ts and a line in src/handlers/registry.ts for a node
 *      type (tsc refuses a node-scope row without one), or src/tracker/handlers.ts for a tracker
 *      type (same check); a `handler: 'group'` row's handler comes from src/group/;
 *   3. its section in docs/PROTOCOL.md, and its codec (parse/format) in messages.ts or
 *      tracker-messages.ts, named in the row's `codec`.
 * Nothing else: request limits, reply policies, group rights, rate classes and the CAPS feature
 * list are derived from the rows (test/protocol/table.test.ts pins what they derive to).
 */
import { CHUNK_SIZE, MAX_CONTROL_REPLY, MAX_ERROR_REPLY, MAX_FILE_SIZE, MAX_HASHES_PER_FRAME, MAX_META_REPLY, MAX_RANGE_FRAME, MSG, type MsgType } from './constants.ts'
import type { FramePolicy } from './frame.ts'
import * as m from './messages.ts'
import * as r from './reach-messages.ts'
import * as rl from './relay-messages.ts'
import * as t from './tracker-messages.ts'

/**
 * What a requester of the type accepts back (PROTOCOL.md §2): `ERRO` (≤ MAX_ERROR_REPLY bytes)
 * always, and REPL frames as follows:
 * - 'none': no REPL (legacy PING and RESP expect only the close);
 * - 'control': buffered REPLs of ≤ MAX_CONTROL_REPLY bytes (controlPolicy in net/client.ts);
 * - 'file': REPLs of ≤ MAX_FILE_SIZE bytes streamed through, never buffered (FGET, §3.7);
 * - 'range': a JSON meta REPL of ≤ MAX_META_REPLY bytes, then streamed data REPLs of
 *   ≤ CHUNK_SIZE bytes, or ≤ MAX_RANGE_FRAME when the RGET asked for large frames (§4.4);
 * - 'hashes': a JSON meta REPL of ≤ MAX_META_REPLY bytes, then buffered REPLs of
 *   ≤ MAX_HASHES_PER_FRAME × 32 bytes (HASH, §4.8).
 */
export type ReplyKind = 'none' | 'control' | 'file' | 'range' | 'hashes'

/**
 * Group rights (PROTOCOL.md §8.3): 'data' = only a publisher serves it (its answer is file data);
 * 'results' = only a publisher sends it (it carries search results); 'any' = every member.
 */
export type RightsClass = 'data' | 'results' | 'any'

/** Per-peer rate class (docs/SECURITY.md "Rate limits"): 'query' requests take a query token. */
export type RateClass = 'query' | 'none'

/**
 * Who serves the type: a node's handler table, a tracker's, both; 'reply' = a reply frame
 * (REPL, ERRO), never served as a request; 'push' = a frame a tracker pushes down a node's
 * control connection (DIAL, §7.10), never served as a request either; 'relay' = only a relay's
 * data port (§10.4).
 */
export type Scope = 'node' | 'tracker' | 'both' | 'reply' | 'push' | 'relay'

/** Named codec functions of a type (parse/format of the request and of its reply). */
export type CodecRef = Readonly<Record<string, (...args: never[]) => unknown>>

/** One message type. */
export interface MessageRow {
  /** Its section of docs/PROTOCOL.md. */
  spec: string
  /** Largest request payload a server buffers, bytes; null for a reply type. */
  limit: number | null
  reply: ReplyKind
  rights: RightsClass
  rate: RateClass
  scope: Scope
  /**
   * Where the handler lives when it is not in the scope's handler table: 'group' = the private
   * group's module, only in a group (§8); 'server' = the tracker server itself (TSES, §7.1);
   * 'reach' = the reachability module: src/tracker/control.ts on a tracker, src/app/reach.ts on
   * a node (§7.10, §7.11); 'relay' = the relay service (src/relay), only on a tracker or node
   * that relays (§10).
   */
  handler?: 'group' | 'server' | 'reach' | 'relay'
  /** A legacy btpeer type (§3): its documented ERRO texts travel without a code (errors.ts). */
  legacy?: true
  /** A p2ptube extension a node advertises in its CAPS reply (§4.1), in table order. */
  caps?: true
  /** The payload codecs, where the payload has one. */
  codec?: CodecRef
}

const KIB = 1024

/** Every message type, in the order of PROTOCOL.md (the CAPS features keep this order). */
export const MESSAGES = {
  // §3 legacy btpeer messages
  NAME: { spec: '§3.1', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'both', legacy: true },
  LIST: { spec: '§3.2', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'node', legacy: true, codec: { parseLine: m.parseListLine, formatLine: m.formatListLine } },
  JOIN: { spec: '§3.3', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'node', legacy: true, codec: { parse: m.parseJoin, format: m.formatJoin } },
  QUER: { spec: '§3.4', limit: KIB, reply: 'control', rights: 'any', rate: 'query', scope: 'node', legacy: true, codec: { parse: m.parseQuer, format: m.formatQuer } },
  RESP: { spec: '§3.5', limit: 4 * KIB, reply: 'none', rights: 'results', rate: 'none', scope: 'node', legacy: true, codec: { parse: m.parseResp, format: m.formatResp } },
  FGET: { spec: '§3.7', limit: 4 * KIB, reply: 'file', rights: 'data', rate: 'none', scope: 'node', legacy: true },
  QUIT: { spec: '§3.6', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'node', legacy: true },
  REPL: { spec: '§1.2', limit: null, reply: 'none', rights: 'any', rate: 'none', scope: 'reply', legacy: true },
  ERRO: { spec: '§5', limit: null, reply: 'none', rights: 'any', rate: 'none', scope: 'reply', legacy: true },
  /** The legacy stabilizer's liveness check: no reply, just the close. */
  PING: { spec: '§3.8', limit: KIB, reply: 'none', rights: 'any', rate: 'none', scope: 'both', legacy: true },
  // §4 p2ptube extensions
  CAPS: { spec: '§4.1', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'node', caps: true, codec: { format: m.formatCaps, parse: m.parseCaps } },
  SRCH: { spec: '§4.2', limit: 4 * KIB, reply: 'control', rights: 'any', rate: 'query', scope: 'node', caps: true, codec: { parse: m.parseSrch, format: m.formatSrch } },
  HITS: { spec: '§4.3', limit: 64 * KIB, reply: 'control', rights: 'results', rate: 'none', scope: 'node', caps: true, codec: { parse: m.parseHits, format: m.formatHits } },
  RGET: {
    spec: '§4.4',
    limit: 4 * KIB,
    reply: 'range',
    rights: 'data',
    rate: 'none',
    scope: 'node',
    caps: true,
    codec: { parse: m.parseRget, format: m.formatRget, parseMeta: m.parseRangeMeta, formatMeta: m.formatRangeMeta }
  },
  HASH: {
    spec: '§4.8',
    limit: KIB,
    reply: 'hashes',
    rights: 'data',
    rate: 'none',
    scope: 'node',
    caps: true,
    codec: { parse: m.parseHashRequest, parseMeta: m.parseHashMeta, formatMeta: m.formatHashMeta }
  },
  BRWS: {
    spec: '§4.9',
    limit: 4 * KIB,
    reply: 'control',
    rights: 'data',
    rate: 'query',
    scope: 'node',
    caps: true,
    codec: { parse: m.parseBrws, format: m.formatBrws, parseReply: m.parseBrowseReply, formatReply: m.formatBrowseReply }
  },
  /** A persistent neighbour link: the node's request server keeps the connection open (a session, §4.10). */
  LINK: { spec: '§4.10', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'node', caps: true, handler: 'server' },
  // §7 tracker messages: a node (or any client) to a tracker
  TREG: {
    spec: '§7.2',
    limit: KIB,
    reply: 'control',
    rights: 'any',
    rate: 'none',
    scope: 'tracker',
    codec: { parse: t.parseRegister, format: t.formatRegister, parseReply: t.parseRegisterReply, formatReply: t.formatRegisterReply }
  },
  TANN: {
    spec: '§7.3',
    limit: 64 * KIB,
    reply: 'control',
    rights: 'any',
    rate: 'none',
    scope: 'tracker',
    codec: { parse: t.parseAnnounce, format: t.formatAnnounce, parseReply: t.parseAnnounceReply, formatReply: t.formatAnnounceReply }
  },
  TBYE: { spec: '§7.4', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'tracker', codec: { parse: t.parsePortRequest, formatReply: t.formatByeReply } },
  TPRS: { spec: '§7.5', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'tracker', codec: { parse: t.parsePortRequest, parseReply: t.parsePeerList, formatReply: t.formatPeerList } },
  TWHO: { spec: '§7.6', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'tracker', codec: { parse: t.parseWho, parseReply: t.parseHitList, formatReply: t.formatHitList } },
  TFND: { spec: '§7.7', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'tracker', codec: { parse: t.parseFind, parseReply: t.parseHitList, formatReply: t.formatHitList } },
  TSTA: { spec: '§7.8', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'tracker', codec: { parseReply: t.parseTrackerStatus, formatReply: t.formatTrackerStatus } },
  TSES: { spec: '§7.1', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'tracker', handler: 'server' },
  // §8 private groups: the signed revocation list, fetched from the tracker or pushed by it (§8.4)
  TREV: { spec: '§8.4', limit: 64 * KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'both', handler: 'group' },
  // §7.10-§7.11 reaching a node that cannot be dialled: connection reversal and hole punching
  TCTL: {
    spec: '§7.10',
    limit: KIB,
    reply: 'control',
    rights: 'any',
    rate: 'none',
    scope: 'tracker',
    handler: 'reach',
    codec: { parse: r.parseControl, format: r.formatControl, parseReply: r.parseControlReply, formatReply: r.formatControlReply }
  },
  TCON: {
    spec: '§7.10',
    limit: KIB,
    reply: 'control',
    rights: 'any',
    rate: 'none',
    scope: 'tracker',
    handler: 'reach',
    codec: { parse: r.parseConnect, format: r.formatConnect, parseReply: r.parseConnectReply, formatReply: r.formatConnectReply }
  },
  DIAL: { spec: '§7.10', limit: null, reply: 'none', rights: 'any', rate: 'none', scope: 'push', codec: { parse: r.parseDial, format: r.formatDial } },
  TPCH: { spec: '§7.11', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'tracker', handler: 'reach', codec: { parse: r.parseToken, format: r.formatToken } },
  RVRS: { spec: '§7.10', limit: KIB, reply: 'none', rights: 'any', rate: 'none', scope: 'node', handler: 'reach', codec: { parse: r.parseToken, format: r.formatToken } },
  // §10 relay: served by a tracker or node started as a relay (its control port), RJOI by the relay's data port
  RRES: {
    spec: '§10.2',
    limit: KIB,
    reply: 'control',
    rights: 'any',
    rate: 'none',
    scope: 'both',
    handler: 'relay',
    codec: {
      parse: rl.parseReserve,
      format: rl.formatReserve,
      parseReply: rl.parseReserveReply,
      formatReply: rl.formatReserveReply,
      parseEvent: rl.parseReservationEvent,
      formatEvent: rl.formatReservationEvent
    }
  },
  RCON: {
    spec: '§10.3',
    limit: KIB,
    reply: 'control',
    rights: 'any',
    rate: 'none',
    scope: 'both',
    handler: 'relay',
    codec: { parse: rl.parseConnect, format: rl.formatConnect, parseReply: rl.parseConnectReply, formatReply: rl.formatConnectReply }
  },
  RJOI: { spec: '§10.4', limit: KIB, reply: 'control', rights: 'any', rate: 'none', scope: 'relay', codec: { parse: rl.parseJoin, format: rl.formatJoin } }
} as const satisfies Record<MsgType, MessageRow>

type Rows = typeof MESSAGES
/** Types a server accepts as requests (every row with a limit). */
export type RequestType = { [K in MsgType]: Rows[K]['limit'] extends number ? K : never }[MsgType]
/** Types a node's own handler table (src/handlers/registry.ts) must serve. */
export type NodeHandledType = { [K in MsgType]: Rows[K] extends { scope: 'node' | 'both' } ? (Rows[K] extends { handler: string } ? never : K) : never }[MsgType]
/** Types a tracker's handler table (src/tracker/handlers.ts) must serve. */
export type TrackerHandledType = { [K in MsgType]: Rows[K] extends { scope: 'tracker' | 'both' } ? (Rows[K] extends { handler: string } ? never : K) : never }[MsgType]

/** The row of a type, or undefined for a type not in the table. */
export function rowOf(type: string): MessageRow | undefined {
  return Object.hasOwn(MESSAGES, type) ? MESSAGES[type as MsgType] : undefined
}

const ENTRIES = Object.entries(MESSAGES) as Array<[MsgType, MessageRow]>
const typesWhere = (f: (r: MessageRow) => boolean): ReadonlySet<string> => new Set(ENTRIES.filter(([, r]) => f(r)).map(([k]) => k))

/**
 * Largest request payload a server buffers, per request type, in bytes (PROTOCOL.md §2 Limits).
 * A header announcing more is answered with ERRO before any of the body is read.
 */
export const REQUEST_LIMITS = Object.fromEntries(ENTRIES.filter(([, r]) => r.limit !== null).map(([k, r]) => [k, r.limit])) as Readonly<Record<RequestType, number>>

/** Request limit of `type` in bytes, or undefined when it is not a request type. */
export function requestLimit(type: string): number | undefined {
  return rowOf(type)?.limit ?? undefined
}

/** Requests whose answer is file data or the library: only a publisher may serve them (§8.3): RGET, FGET, HASH, BRWS. */
export const PUBLISHER_TYPES = typesWhere((r) => r.rights === 'data')
/** Requests carrying results: only a publisher may send them (§8.3): RESP, HITS. */
export const RESULT_TYPES = typesWhere((r) => r.rights === 'results')
/** Requests that take a per-peer query token (SECURITY.md "Rate limits"): QUER, SRCH, BRWS. */
export const QUERY_TYPES = typesWhere((r) => r.rate === 'query')
/** Legacy btpeer types (§3). */
export const LEGACY_TYPES = typesWhere((r) => r.legacy === true)

/** The features a node names in its CAPS reply (§4.1): the extension rows, in table order. */
export const CAPS_FEATURES: readonly MsgType[] = ENTRIES.filter(([, r]) => r.caps === true).map(([k]) => k)

const ERRO_POLICY: FramePolicy = { maxLength: MAX_ERROR_REPLY }
const CONTROL_POLICY: FramePolicy = { maxLength: MAX_CONTROL_REPLY }
const META_POLICY: FramePolicy = { maxLength: MAX_META_REPLY }
const FILE_POLICY: FramePolicy = { maxLength: MAX_FILE_SIZE, stream: true }
const DATA_POLICY: FramePolicy = { maxLength: CHUNK_SIZE, stream: true }
const LARGE_DATA_POLICY: FramePolicy = { maxLength: MAX_RANGE_FRAME, stream: true }
const HASHES_POLICY: FramePolicy = { maxLength: MAX_HASHES_PER_FRAME * 32 }

/**
 * Policy of a requester's FrameDecoder for one reply frame (see ReplyKind; the limits are those
 * of PROTOCOL.md §2 "Limits"). The one source for every requester: net/client.ts (control),
 * node/legacy-fetch.ts (file), node/range-client.ts (range), node/hash-client.ts (hashes). The
 * policies are allocated once: the decoder asks for one per 2 KiB data frame.
 * @param kind the request's ReplyKind (`MESSAGES[type].reply`).
 * @param frameType the reply frame's type (REPL, ERRO; anything else is refused: undefined).
 * @param first true until the first REPL has been read (the meta frame of 'range' and 'hashes').
 * @param largeFrames 'range' only: the RGET asked for large data frames (its `frame` field).
 * Note 'file' streams REPLs up to MAX_FILE_SIZE each: the caller caps the total (MAX_FILE_SIZE).
 */
export function replyPolicy(kind: ReplyKind, frameType: string, first = true, largeFrames = false): FramePolicy | undefined {
  if (frameType === MSG.ERRO) return ERRO_POLICY
  if (frameType !== MSG.REPL) return undefined
  switch (kind) {
    case 'none':
      return undefined
    case 'control':
      return CONTROL_POLICY
    case 'file':
      return FILE_POLICY
    case 'range':
      return first ? META_POLICY : largeFrames ? LARGE_DATA_POLICY : DATA_POLICY
    case 'hashes':
      return first ? META_POLICY : HASHES_POLICY
  }
}
