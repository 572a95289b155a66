/**
 * Error classes with stable `code`s, the one list of every code with its meaning (ERROR_CODES;
 * docs/PROTOCOL.md §5's table is generated from it: `npm run gen:errors`), and how a code
 * travels in an ERRO payload. Tests, clients and the CLI match `code`, never message text.
 */

/**
 * Every error code p2ptube raises or sends, with a one-line meaning. A code used in src/ and
 * missing here fails test/protocol/errors.test.ts.
 */
export const ERROR_CODES = {
  // frames (PROTOCOL.md §1, §2)
  ERR_BAD_TYPE: 'a frame type byte outside 0x21-0x7E (also when encoding such a type locally)',
  ERR_UNKNOWN_TYPE: 'no handler for the frame type here (REPL/ERRO as a request too); requester: a reply type not allowed for its request',
  ERR_FRAME_TOO_LARGE: "a frame's length is over its type's limit (PROTOCOL.md §2), rejected at the header",
  ERR_TRUNCATED_FRAME: 'the connection ended inside a frame header or body',
  ERR_DECODER_FAILED: 'a frame decoder used after it threw (local bug)',
  ERR_INVALID_FRAME: 'fallback for a decoder error without a code (unreachable today)',
  ERR_NO_REQUEST: 'the connection ended before any request byte',
  ERR_UNEXPECTED: 'a frame not allowed at this point (TSES after the first frame)',
  ERR_TIMEOUT: 'request not complete in 10 s (server); connect (5 s) or idle (30 s) timeout (requester)',
  // payloads and requests
  ERR_MALFORMED_PAYLOAD: 'a payload that does not parse, or a field out of range',
  ERR_SPOOFED_ADDRESS: "an address in the payload (JOIN host, QUIT peer, TREG/TANN host) is not the connection's",
  ERR_UNSOLICITED: 'HITS/RESP that answers no open search of ours, or comes from a host other than the holder',
  ERR_NOT_FOUND: 'no such file at the holder (FGET, RGET, HASH), or no holder answered a search (CLI)',
  ERR_RANGE: 'an RGET offset past the end of the file',
  ERR_PEERS_FULL: 'JOIN refused: the peer table is full',
  ERR_PEER_EXISTS: 'JOIN refused: that peer id is already in the table (or is the node itself)',
  ERR_PEER_NOT_FOUND: 'QUIT of a peer id not in the table',
  ERR_RATE_LIMITED: 'over a per-peer rate (connections, queries, announces): retry later',
  ERR_TOO_MANY_CONNECTIONS: 'the remote address already has the most connections a server keeps open from one address (node 64, tracker 512)',
  ERR_INTERNAL: 'the handler failed on a local bug (logged at the server)',
  // serving files
  ERR_READ: 'a served file cannot be opened (deleted since indexing)',
  ERR_FILE_CHANGED: 'a served file no longer has its indexed size',
  // requester side
  ERR_REMOTE: "the peer answered ERRO; RemoteError.remoteCode holds the peer's code",
  ERR_CONNECT: 'connection refused or unreachable (the CLI also: could not join any peer)',
  ERR_CONNECTION_CLOSED: 'the peer closed the connection abruptly; server: write to a closed socket',
  ERR_ABORTED: 'cancelled through an AbortSignal',
  ERR_TOO_MANY_REPLIES: 'more than 1 024 reply frames to one control request',
  ERR_NO_REPLY: 'no reply frame where one was required',
  ERR_BAD_REPLY: 'a reply that does not match the request (other file or range, missing meta or data, wrong piece count)',
  ERR_FILE_TOO_LARGE: 'a file over 64 GiB (RGET meta size, legacy FGET reply)',
  // downloads and the library
  ERR_INTEGRITY: 'downloaded bytes do not match their SHA-256 (content id or piece hash)',
  ERR_BAD_HASH_LIST: "a holder's piece hash list does not give the content id (Merkle root, PROTOCOL.md §4.8): that holder is dropped",
  ERR_SHORT_FILE: 'a partial file shorter than its size at verification',
  ERR_NO_CONTENT_ID: 'a non-legacy download without a content id',
  ERR_NO_SOURCES: 'every holder of a download was dropped',
  ERR_HASH_WORKER: 'the SHA-256 worker thread failed',
  ERR_WRITE: 'a download file cannot be written (disk full...)',
  ERR_BUSY: 'a download into a partial file another download is writing or verifying',
  ERR_CLOSED: 'reading a download whose file is closed',
  ERR_QUERY_TOO_LONG: 'a search string over 256 UTF-8 bytes, refused locally',
  ERR_SHARE_NOT_FOUND: 'a share path does not exist',
  ERR_NOT_MEDIA: 'a single shared file is not a media file',
  ERR_NO_BROWSE: 'the peer does not serve BRWS (a legacy peer or an older node) (PROTOCOL.md §4.9)',
  // tracker (PROTOCOL.md §7)
  ERR_TOO_MANY_PEERS: 'TREG refused: the host already has the most peers a tracker allows per host; JOIN refused: the most peer-table entries per host (PROTOCOL.md §3.9)',
  ERR_TOO_MANY_FILES: 'TANN refused: the peer, or all peers of its host address, would pass the most names (or name bytes) a tracker indexes per peer or per host',
  ERR_INDEX_FULL: 'TANN refused: the tracker holds the most names (or name bytes) it indexes in all',
  ERR_TOO_MANY_WORDS: 'TFND refused: more than 16 distinct words in the query',
  ERR_STORE: 'the tracker could not write its store (disk full...): the registration was not acknowledged; retry',
  ERR_NO_SESSION: 'the tracker refused a session (TSES)',
  ERR_LINK_BUSY: 'a neighbour link has its most requests or bytes in flight (the request goes on its own connection)',
  ERR_NOT_OPEN: 'a tracker session used before it is open',
  // reaching a peer that cannot be dialled (PROTOCOL.md §7.10, §7.11; docs/NETWORK.md)
  ERR_NO_ROUTE: 'no other way than a direct dial to reach the peer (no tracker, no control connection, this node not dialable)',
  ERR_UNKNOWN_TOKEN: 'a reversed connection (RVRS) whose token this node is not waiting for (expired or never asked)',
  ERR_NOT_REGISTERED: 'TCTL/TCON/TPCH about a peer the tracker has no registration (or no control connection) for',
  // private groups (PROTOCOL.md §8)
  ERR_NOT_MEMBER: "the peer's certificate is not of this group",
  ERR_NOT_MEMBER_CERT: 'a certificate without p2ptube member claims',
  ERR_REVOKED: "the peer's credential is revoked",
  ERR_NOT_PUBLISHER: 'a member without publish rights sent results or was asked for file data',
  ERR_NOT_TRACKER: "a revocation list pushed by someone other than the group's tracker",
  ERR_BAD_REVOCATIONS: 'a revocation list that is malformed, too large or of another group',
  ERR_BAD_SIGNATURE: "a revocation list not signed by the group's CA",
  ERR_BAD_CREDENTIAL: 'not a valid group credential file',
  ERR_NO_CREDENTIAL: 'no credential file at the given path',
  ERR_CREDENTIAL_MODE: 'a credential file readable by others (chmod 600)',
  ERR_NO_GROUP: 'no group in the admin directory (group init first)',
  ERR_GROUP_EXISTS: 'the admin directory already holds a group',
  ERR_BAD_NAME: 'a group or member name outside 1-64 letters, digits, ., _ or -',
  ERR_MEMBER_EXISTS: 'an unrevoked member of that name exists',
  ERR_NO_MEMBER: 'no current member of that name',
  ERR_ADMIN_BUSY: 'another group command holds the admin lock for more than 15 s',
  ERR_NO_OPENSSL: 'the openssl command is missing (group admin)',
  ERR_OPENSSL: 'an openssl command failed (group admin)',
  // relay (PROTOCOL.md §10)
  ERR_NO_RESERVATION: 'RCON to a peer id without a reservation on the relay (a relay is not an open proxy)',
  ERR_RELAY_LIMIT: "over a relay's cap: reservations, circuits in all or per peer, or bytes per peer",
  ERR_BAD_TOKEN: 'RJOI with a token the relay did not issue, already used, or expired',
  ERR_RELAY: 'no relay could carry the connection (every relay tried refused or failed)',
  // local player and CLI
  ERR_MPV_NOT_FOUND: 'the mpv player is not installed',
  ERR_MPV_COMMAND: 'mpv refused a command',
  ERR_MPV_LOAD: 'mpv could not load the stream',
  ERR_MPV_EXITED: 'mpv exited',
  ERR_UNSAFE_MEDIA: 'not handed to the player: a playlist/EDL/URL list, or a name without a media extension (docs/SECURITY.md)',
  ERR_NOT_PLAYING: 'a playback command while nothing is playing (node --control)',
  ERR_USAGE: 'bad command-line usage (CLI exit status 2)'
} as const satisfies Record<`ERR_${string}`, string>

/** A code of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES

/**
 * The legacy btpeer ERRO texts (btpeer-wire.md "Messages") and the code each stands for. On a
 * legacy request type these texts travel **without** the code prefix: a legacy peer shows an
 * ERRO payload verbatim to its user ("ERROR File not found"), so it must stay byte-identical;
 * a p2ptube requester maps the text back to its code here.
 */
export const LEGACY_ERRORS: ReadonlyArray<readonly [ErrorCode, RegExp]> = [
  ['ERR_NOT_FOUND', /^File not found$/],
  ['ERR_READ', /^Error reading file(?: \(|$)/],
  ['ERR_PEERS_FULL', /^Join: too many peers$/],
  ['ERR_PEER_EXISTS', /^Join: peer already inserted /],
  ['ERR_PEER_NOT_FOUND', /^Quit: peer not found: /],
  ['ERR_MALFORMED_PAYLOAD', /^(?:Join|Query|Response): incorrect arguments/]
]

const CODE_PREFIX = /^(ERR_[A-Z0-9_]+): /

/**
 * The ERRO payload for an error answer (PROTOCOL.md §5): `"<CODE>: <message>"`, except a legacy
 * text (LEGACY_ERRORS) answering a legacy request type, which travels as it is.
 * @param legacy the request is a legacy btpeer type (table.ts LEGACY_TYPES).
 * @returns UTF-8 text; the caller frames it.
 */
export function formatErrorPayload(code: string, message: string, legacy = false): string {
  if (legacy && LEGACY_ERRORS.some(([c, re]) => c === code && re.test(message))) return message
  return `${code}: ${message}`
}

/**
 * Split an ERRO payload into its code and text: a leading `"ERR_…: "`, else the code of a known
 * legacy text, else no code (a legacy peer's free text).
 */
export function parseErrorPayload(payload: string): { code: string | undefined; message: string } {
  const m = CODE_PREFIX.exec(payload)
  if (m) return { code: m[1], message: payload.slice(m[0].length) }
  return { code: LEGACY_ERRORS.find(([, re]) => re.test(payload))?.[0], message: payload }
}

/** Base of every p2ptube error. `code` is stable across releases. */
export class P2PTubeError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Bytes that are not a valid frame: bad type, oversize length, truncated frame. */
export class InvalidFrameError extends P2PTubeError {}

/** A valid frame that is illegal here: malformed payload, unknown query id, forbidden name. */
export class ProtocolError extends P2PTubeError {}

/** A connect, request or idle timeout. `code` is always 'ERR_TIMEOUT'. */
export class TimeoutError extends P2PTubeError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message)
  }
}

/** The operation was cancelled through its AbortSignal. `code` is always 'ERR_ABORTED'. */
export class AbortError extends P2PTubeError {
  constructor(message = 'The operation was aborted') {
    super('ERR_ABORTED', message)
  }
}

/**
 * The remote peer answered ERRO. `code` is 'ERR_REMOTE'; `reason` is the whole payload text and
 * `remoteCode` the peer's code (its `"ERR_…: "` prefix, or the code of a legacy text, see
 * parseErrorPayload), undefined when the text carries none. Match `remoteCode`, not `reason`.
 */
export class RemoteError extends P2PTubeError {
  readonly reason: string
  readonly remoteCode: string | undefined
  constructor(reason: string) {
    super('ERR_REMOTE', `peer replied ERRO: ${reason}`)
    this.reason = reason
    this.remoteCode = parseErrorPayload(reason).code
  }
}

/** Bad command-line usage (a missing or invalid option). `code` is always 'ERR_USAGE'; the CLI exits 2. */
export class UsageError extends P2PTubeError {
  constructor(message: string) {
    super('ERR_USAGE', message)
  }
}

/** A fetched file whose SHA-256 does not match its content id. */
export class IntegrityError extends P2PTubeError {
  constructor(message: string) {
    super('ERR_INTEGRITY', message)
  }
}

/** The message of an error, or the value as text (for log lines). */
export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
