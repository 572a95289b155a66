/**
 * Payload codecs of the p2ptube extension messages (docs/PROTOCOL.md §4): UTF-8 JSON objects with
 * every field checked, plus the field helpers the tracker messages share. Pure functions: they
 * throw ProtocolError ERR_MALFORMED_PAYLOAD.
 */
import { BROWSE_PAGE_MAX, CHUNK_SIZE, MAX_HITS, MAX_NAME_LENGTH, MAX_QUERY_LENGTH, MAX_RANGE_FRAME, MAX_TTL, PROTOCOL_NAME, PROTOCOL_VERSION } from './constants.ts'
import { HOST_RE, malformed, parsePeerId } from './peer-id.ts'
import { toMediaMeta, type MediaMeta } from './media-meta.ts'

/** Parse a JSON-object payload. @throws ProtocolError ERR_MALFORMED_PAYLOAD */
export function parseJson(payload: Buffer | string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
  } catch {
    throw malformed(`${what}: payload is not JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`${what}: payload must be a JSON object`)
  return value as Record<string, unknown>
}

/** A required string field of at most `max` UTF-8 bytes, matching `re`. @throws ProtocolError */
export function str(o: Record<string, unknown>, key: string, what: string, max: number, re?: RegExp): string {
  const v = o[key]
  if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) > max || (re && !re.test(v))) throw malformed(`${what}: field "${key}" is missing or invalid`)
  return v
}

/** A required integer field within [min, max]. @throws ProtocolError */
export function int(o: Record<string, unknown>, key: string, what: string, min: number, max: number): number {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw malformed(`${what}: field "${key}" must be an integer from ${min} to ${max}`)
  return v
}

const HEX32 = /^[0-9a-f]{32}$/
const HEX64 = /^[0-9a-f]{64}$/

/** True for a content id: 64 lowercase hex digits of SHA-256. */
export function isContentId(s: string): boolean {
  return HEX64.test(s)
}

/** CAPS reply (PROTOCOL.md §4.1). */
export interface Caps {
  proto: string
  version: number
  id: string
  features: string[]
  /** The requester's address as the answering peer sees it on the socket (optional, §4.1). */
  you?: string
}

/** CAPS reply; `you` reports the requester's observed address (a node learns how others see it). */
export function formatCaps(id: string, features: readonly string[], you?: string): string {
  return JSON.stringify({ proto: PROTOCOL_NAME, version: PROTOCOL_VERSION, id, features, ...(you ? { you } : {}) })
}

/** @throws ProtocolError */
export function parseCaps(payload: Buffer): Caps {
  const o = parseJson(payload, 'CAPS')
  if (o.proto !== PROTOCOL_NAME) throw malformed('CAPS: not a p2ptube peer')
  const features = Array.isArray(o.features) ? o.features.filter((f): f is string => typeof f === 'string').slice(0, 64) : []
  const you = typeof o.you === 'string' && o.you.length <= 100 && HOST_RE.test(o.you) ? { you: o.you } : {}
  return { proto: PROTOCOL_NAME, version: int(o, 'version', 'CAPS', 1, 1_000_000), id: str(o, 'id', 'CAPS', 300), features, ...you }
}

/** SRCH: flood search with a query id (PROTOCOL.md §4.2). */
export interface Search {
  qid: string
  origin: string
  q: string
  ttl: number
  hops: number
  cid?: string
  /**
   * The id of the node that sent this copy (optional): the receiver does not forward the query
   * back to it (PROTOCOL.md §4.2).
   */
  via?: string
}

export function formatSrch(s: Search): string {
  return JSON.stringify(s)
}

/** @throws ProtocolError */
export function parseSrch(payload: Buffer): Search {
  const o = parseJson(payload, 'SRCH')
  const qid = str(o, 'qid', 'SRCH', 32, HEX32)
  const origin = str(o, 'origin', 'SRCH', 300)
  parsePeerId(origin)
  const q = typeof o.q === 'string' && Buffer.byteLength(o.q) <= MAX_QUERY_LENGTH ? o.q : undefined
  if (q === undefined) throw malformed('SRCH: field "q" is missing or too long')
  const ttl = int(o, 'ttl', 'SRCH', 0, 255)
  const hops = int(o, 'hops', 'SRCH', 0, 255)
  const search: Search = { qid, origin, q, ttl: Math.min(ttl, MAX_TTL), hops }
  if (o.cid !== undefined) search.cid = str(o, 'cid', 'SRCH', 64, HEX64)
  if (typeof o.via === 'string' && o.via.length <= 300) {
    try {
      parsePeerId(o.via)
      search.via = o.via
    } catch {
      // an unusable hint is ignored: it only saves a duplicate
    }
  }
  if (q.trim() === '' && !search.cid) throw malformed('SRCH: empty query')
  return search
}

/** One search result as it travels in HITS (PROTOCOL.md §4.3). `cid` is the content id. */
export interface Hit {
  name: string
  size: number
  cid: string
  kind: string
  /** Tags, duration, format (optional; fields that do not check out are dropped, media-meta.ts). */
  meta?: MediaMeta
}

/** One result or browse entry of a HITS or BRWS reply (PROTOCOL.md §4.3). @throws ProtocolError */
export function parseHit(r: unknown, what: string): Hit {
  if (typeof r !== 'object' || r === null) throw malformed(`${what}: result must be an object`)
  const x = r as Record<string, unknown>
  const meta = toMediaMeta(x.meta)
  return {
    name: str(x, 'name', what, MAX_NAME_LENGTH),
    size: int(x, 'size', what, 0, Number.MAX_SAFE_INTEGER),
    cid: str(x, 'cid', what, 64, HEX64),
    kind: typeof x.kind === 'string' ? x.kind.slice(0, 16) : 'other',
    ...(meta ? { meta } : {})
  }
}

/** HITS: a holder's answer, sent to the query's origin on a new connection (PROTOCOL.md §4.3). */
export interface Hits {
  qid: string
  holder: string
  results: Hit[]
  /** How many entries matched at the holder, when more than it sent (its cap, §4.3); optional. */
  total?: number
}

export function formatHits(h: Hits): string {
  return JSON.stringify(h)
}

/** @throws ProtocolError */
export function parseHits(payload: Buffer): Hits {
  const o = parseJson(payload, 'HITS')
  const qid = str(o, 'qid', 'HITS', 32, HEX32)
  const holder = str(o, 'holder', 'HITS', 300)
  parsePeerId(holder)
  if (!Array.isArray(o.results) || o.results.length > MAX_HITS) throw malformed(`HITS: "results" must be an array of at most ${MAX_HITS}`)
  const results = o.results.map((r) => parseHit(r, 'HITS'))
  const total = typeof o.total === 'number' && Number.isSafeInteger(o.total) && o.total > results.length ? { total: o.total } : {}
  return { qid, holder, results, ...total }
}

/** RGET: ranged fetch by content id or name (PROTOCOL.md §4.4). */
export interface RangeGet {
  cid?: string
  name?: string
  offset: number
  /** Bytes wanted; absent = to the end. */
  length?: number
  /**
   * Largest data frame the requester accepts, CHUNK_SIZE–MAX_RANGE_FRAME bytes; absent = frames
   * of exactly CHUNK_SIZE (§4.7). A holder sends frames of at most this size.
   */
  frame?: number
}

export function formatRget(r: RangeGet): string {
  return JSON.stringify(r)
}

/** @throws ProtocolError */
export function parseRget(payload: Buffer): RangeGet {
  const o = parseJson(payload, 'RGET')
  const r: RangeGet = { offset: int(o, 'offset', 'RGET', 0, Number.MAX_SAFE_INTEGER) }
  if (o.cid !== undefined) r.cid = str(o, 'cid', 'RGET', 64, HEX64)
  if (o.name !== undefined) r.name = str(o, 'name', 'RGET', MAX_NAME_LENGTH)
  if (!r.cid && !r.name) throw malformed('RGET: needs "cid" or "name"')
  if (o.length !== undefined) r.length = int(o, 'length', 'RGET', 0, Number.MAX_SAFE_INTEGER)
  if (o.frame !== undefined) r.frame = int(o, 'frame', 'RGET', CHUNK_SIZE, MAX_RANGE_FRAME)
  return r
}

/** First REPL of an RGET reply: what follows (PROTOCOL.md §4.4). */
export interface RangeMeta {
  name: string
  size: number
  cid: string
  offset: number
  length: number
}

export function formatRangeMeta(m: RangeMeta): string {
  return JSON.stringify(m)
}

/** @throws ProtocolError */
export function parseRangeMeta(payload: Buffer): RangeMeta {
  const o = parseJson(payload, 'RGET reply')
  return {
    name: str(o, 'name', 'RGET reply', MAX_NAME_LENGTH),
    size: int(o, 'size', 'RGET reply', 0, Number.MAX_SAFE_INTEGER),
    cid: str(o, 'cid', 'RGET reply', 64, HEX64),
    offset: int(o, 'offset', 'RGET reply', 0, Number.MAX_SAFE_INTEGER),
    length: int(o, 'length', 'RGET reply', 0, Number.MAX_SAFE_INTEGER)
  }
}

/** HASH request: the piece hash list of a content id (PROTOCOL.md §4.8). */
export interface HashRequest {
  cid: string
}

export function formatHashRequest(r: HashRequest): string {
  return JSON.stringify({ cid: r.cid })
}

/** @throws ProtocolError */
export function parseHashRequest(payload: Buffer): HashRequest {
  const o = parseJson(payload, 'HASH')
  return { cid: str(o, 'cid', 'HASH', 64, HEX64) }
}

/** First REPL of a HASH reply; `pieces` hashes of 32 bytes follow in binary REPL frames. */
export interface HashMeta {
  cid: string
  size: number
  pieceSize: number
  pieces: number
}

/** The meta REPL of a HASH reply: `{ cid, size, pieceSize, pieces }` (sizes in bytes). */
export function formatHashMeta(h: HashMeta): string {
  return JSON.stringify({ cid: h.cid, size: h.size, pieceSize: h.pieceSize, pieces: h.pieces })
}

/** @throws ProtocolError */
export function parseHashMeta(payload: Buffer): HashMeta {
  const o = parseJson(payload, 'HASH reply')
  return {
    cid: str(o, 'cid', 'HASH reply', 64, HEX64),
    size: int(o, 'size', 'HASH reply', 0, Number.MAX_SAFE_INTEGER),
    pieceSize: int(o, 'pieceSize', 'HASH reply', 1, 1 << 30),
    pieces: int(o, 'pieces', 'HASH reply', 0, 1 << 30)
  }
}

/** BRWS request: one page of the library, names after `after` (PROTOCOL.md §4.9). */
export interface BrowseRequest {
  /** The last name of the previous page; absent = from the start. */
  after?: string
  /** Entries wanted, 1–BROWSE_PAGE_MAX (absent: the server's default). */
  max?: number
}

export function formatBrws(r: BrowseRequest): string {
  return JSON.stringify(r)
}

/** @throws ProtocolError */
export function parseBrws(payload: Buffer): BrowseRequest {
  const o = parseJson(payload, 'BRWS')
  const r: BrowseRequest = {}
  if (o.after !== undefined) r.after = str(o, 'after', 'BRWS', MAX_NAME_LENGTH)
  if (o.max !== undefined) r.max = int(o, 'max', 'BRWS', 1, BROWSE_PAGE_MAX)
  return r
}

/** BRWS reply: a page of entries in name order, the library's size, and the cursor of the next page. */
export interface BrowseReply {
  /** Entries with a content id the holder lists in all. */
  total: number
  entries: Hit[]
  /** Present when more entries follow: the `after` of the next request (the last name here). */
  next?: string
}

export function formatBrowseReply(r: BrowseReply): string {
  return JSON.stringify(r)
}

/**
 * @throws ProtocolError ERR_MALFORMED_PAYLOAD: not JSON, over BROWSE_PAGE_MAX entries, an invalid
 *   entry, or entries not in strictly increasing name order (each after `after` when given).
 */
export function parseBrowseReply(payload: Buffer, after?: string): BrowseReply {
  const o = parseJson(payload, 'BRWS reply')
  if (!Array.isArray(o.entries) || o.entries.length > BROWSE_PAGE_MAX) throw malformed(`BRWS reply: "entries" must be an array of at most ${BROWSE_PAGE_MAX}`)
  const entries = o.entries.map((e) => parseHit(e, 'BRWS reply'))
  let prev = after
  for (const e of entries) {
    if (prev !== undefined && !(e.name > prev)) throw malformed('BRWS reply: entries must come in increasing name order, after the cursor')
    prev = e.name
  }
  const r: BrowseReply = { total: int(o, 'total', 'BRWS reply', 0, Number.MAX_SAFE_INTEGER), entries }
  if (o.next !== undefined) {
    r.next = str(o, 'next', 'BRWS reply', MAX_NAME_LENGTH)
    if (!entries.length || r.next !== prev) throw malformed('BRWS reply: "next" must be the last name of a non-empty page')
  }
  return r
}
