/**
 * Every wire number of the p2ptube protocol, each linked to its section of docs/PROTOCOL.md.
 * Pure data: no I/O here.
 */

/** Frame header: 4-byte ASCII type + 4-byte big-endian payload length (PROTOCOL.md §1 Frame). */
export const HEADER_SIZE = 8
/** Bytes of the type field (PROTOCOL.md §1). */
export const TYPE_SIZE = 4
/** Largest length the 32-bit field can state (PROTOCOL.md §1). */
export const MAX_FRAME_LENGTH = 0xffff_ffff

/** File data travels in REPL frames of exactly this many bytes, the last one shorter (PROTOCOL.md §4.7). */
export const CHUNK_SIZE = 2048
/**
 * Integrity unit: a piece is 32 chunks; its SHA-256 is in the holder's hash list and is checked
 * before the piece is written or re-served (PROTOCOL.md §4.8). 32 bytes per 64 KiB = 0.05 %.
 */
export const PIECE_SIZE = 64 * 1024
/**
 * Largest data frame of an RGET reply when the request asked for large frames (its `frame`
 * field): 1 MiB (PROTOCOL.md §4.4, §4.7). Without `frame`, and always for FGET, CHUNK_SIZE.
 */
export const MAX_RANGE_FRAME = 1024 * 1024
/** Piece hashes in one HASH reply frame at most (64 KiB of hashes) (PROTOCOL.md §4.8). */
export const MAX_HASHES_PER_FRAME = 2048

/**
 * Message types (PROTOCOL.md §3 legacy, §4 p2ptube extensions, §7 tracker, §8 group). Each has
 * its row in the message table (table.ts): limits, reply policy, rights, rate class, CAPS.
 */
export const MSG = {
  NAME: 'NAME',
  LIST: 'LIST',
  JOIN: 'JOIN',
  QUER: 'QUER',
  RESP: 'RESP',
  FGET: 'FGET',
  QUIT: 'QUIT',
  REPL: 'REPL',
  ERRO: 'ERRO',
  /** The legacy stabilizer's liveness check: no reply, just the close (PROTOCOL.md §3.8). */
  PING: 'PING',
  // p2ptube extensions: new 4-character types a legacy peer answers by closing (PROTOCOL.md §4).
  CAPS: 'CAPS',
  SRCH: 'SRCH',
  HITS: 'HITS',
  RGET: 'RGET',
  /** Piece hash list of a content id (PROTOCOL.md §4.8). */
  HASH: 'HASH',
  /** Browse: one page of a peer's whole library, by name (PROTOCOL.md §4.9). */
  BRWS: 'BRWS',
  /** Open a persistent neighbour link: the connection stays open for SRCH, HITS and keepalives (PROTOCOL.md §4.10). */
  LINK: 'LINK',
  // Tracker messages: a node (or any client) to a tracker, never node to node (PROTOCOL.md §7).
  /** Register: the sender's listening port; the host is the socket's (§7.2). */
  TREG: 'TREG',
  /** Announce: a library delta against a version, or a heartbeat (§7.3). */
  TANN: 'TANN',
  /** Unregister at once (a clean leave) (§7.4). */
  TBYE: 'TBYE',
  /** Peer list for bootstrap (§7.5). */
  TPRS: 'TPRS',
  /** Holders of a content id (§7.6). */
  TWHO: 'TWHO',
  /** Keyword search over every announced name, ranked, with holder counts (§7.7). */
  TFND: 'TFND',
  /** Tracker status: peers online, files indexed, announces/s (§7.8). */
  TSTA: 'TSTA',
  /** Open a tracker session: the connection stays open for many requests (§7.1). */
  TSES: 'TSES',
  // Private groups (PROTOCOL.md §8).
  /** The group's signed revocation list: fetched from the tracker, or pushed by it to a member (§8.4). */
  TREV: 'TREV',
  // Reaching a node that cannot be dialled (PROTOCOL.md §7.10, §7.11).
  /** Make this tracker session the node's control connection: the tracker pushes DIAL down it (§7.10). */
  TCTL: 'TCTL',
  /** Ask the tracker to have a holder connect to the asker: reversal, or a punch (§7.10, §7.11). */
  TCON: 'TCON',
  /** A tracker's push down a control connection: connect to this address with this token (§7.10). */
  DIAL: 'DIAL',
  /** A holder's side of a punch: the tracker sees the holder's public port on this connection (§7.11). */
  TPCH: 'TPCH',
  /** First frame of a connection a holder made for a requester: its token; the holder then serves (§7.10). */
  RVRS: 'RVRS',
  // Relay (PROTOCOL.md §10): a holder that cannot be dialled is reached through a relay.
  /** Reserve a slot on a relay: the connection stays open and carries incoming-circuit notices (§10.2). */
  RRES: 'RRES',
  /** Ask a relay for a circuit to a peer id that holds a reservation there (§10.3). */
  RCON: 'RCON',
  /** Join a circuit on the relay's data port with a one-time token; then the relay only copies bytes (§10.4). */
  RJOI: 'RJOI'
} as const
export type MsgType = (typeof MSG)[keyof typeof MSG]

/** Largest control reply (REPL/ERRO outside a file transfer) a requester buffers, bytes (PROTOCOL.md §2). */
export const MAX_CONTROL_REPLY = 65536
/** Largest RGET meta frame (the first REPL of an RGET reply) a requester buffers, bytes (PROTOCOL.md §4.4). */
export const MAX_META_REPLY = 4096
/** Largest ERRO payload buffered, bytes (PROTOCOL.md §2). */
export const MAX_ERROR_REPLY = 4096
/** Most reply frames a requester reads for one control request (LIST: count line + peers) (PROTOCOL.md §2). */
export const MAX_REPLY_FRAMES = 1024
/** Most peers taken from one LIST reply (PROTOCOL.md §3.2). */
export const MAX_LIST_PEERS = 1000
/** Largest file a node fetches, bytes (a legacy FGET reply may be one frame of the whole file) (PROTOCOL.md §2). */
export const MAX_FILE_SIZE = 64 * 1024 ** 3

/** Flood search (PROTOCOL.md §4.2): default TTL, the cap a node applies to any TTL it receives or sends. */
export const DEFAULT_TTL = 4
export const MAX_TTL = 7
/** Query id: 16 random bytes, hex (Gnutella GUID) (PROTOCOL.md §4.2). */
export const QUERY_ID_BYTES = 16
/** Seen-set of query ids: entries kept, and how long, ms (PROTOCOL.md §4.2). */
export const SEEN_SET_SIZE = 10_000
export const SEEN_TTL_MS = 60_000
/** SRCH is not forwarded once it has travelled this many hops (the field is one byte) (PROTOCOL.md §4.2). */
export const MAX_HOPS = 255
/** Legacy QUER carries no id: the same return id + key is ignored for this long, ms (PROTOCOL.md §3.4). */
export const LEGACY_REPEAT_MS = 10_000
/** RESP messages sent for one legacy QUER at most (PROTOCOL.md §3.4). */
export const MAX_LEGACY_RESPONSES = 10
/** Results in one HITS message at most (OpenNap: 100) (PROTOCOL.md §4.3). */
export const MAX_HITS = 100
/** Longest search string, bytes (PROTOCOL.md §4.2). */
export const MAX_QUERY_LENGTH = 256
/** Longest file name on the wire, bytes (PROTOCOL.md §4.3). */
export const MAX_NAME_LENGTH = 1024
/** Entries in one BRWS reply by default and at most (PROTOCOL.md §4.9). */
export const BROWSE_PAGE_DEFAULT = 200
export const BROWSE_PAGE_MAX = 500
/** Most entries a browsing node takes from one peer, over all pages (the library's own cap) (PROTOCOL.md §4.9). */
export const MAX_BROWSE_ENTRIES = 100_000
/** Longest tag text (title, artist, …) kept and sent, UTF-8 bytes; longer ones are cut (PROTOCOL.md §4.3). */
export const MAX_TAG_BYTES = 256

/** Timeouts, ms (PROTOCOL.md §2 Timeouts). */
export const CONNECT_TIMEOUT_MS = 5_000
/** A server closes a connection whose one request frame has not fully arrived in this time. */
export const REQUEST_TIMEOUT_MS = 10_000
/** A requester gives up when a reply stream is silent for this long; a server gives up on a
 * requester that has not read its reply for this long. */
export const IDLE_TIMEOUT_MS = 30_000
/** Connections a node serves at once; more are refused at accept (PROTOCOL.md §2). */
export const MAX_CONNECTIONS = 512

/**
 * Neighbour links (PROTOCOL.md §4.10): a keepalive (NAME on the link) every LINK_KEEPALIVE_MS; a
 * server closes a link silent for LINK_IDLE_MS; a requester keeps at most LINK_MAX_IN_FLIGHT
 * requests and LINK_MAX_QUEUED_BYTES unsent bytes on one link (more go on their own connection).
 */
export const LINK_KEEPALIVE_MS = 10_000
export const LINK_IDLE_MS = 35_000
export const LINK_MAX_IN_FLIGHT = 64
export const LINK_MAX_QUEUED_BYTES = 256 * 1024

/** Protocol name and version in the CAPS reply (PROTOCOL.md §4.1); 2: content ids bound to the pieces' Merkle root (§4.5, §9). */
export const PROTOCOL_NAME = 'p2ptube'
export const PROTOCOL_VERSION = 2

// ---------------------------------------------------------------- tracker (PROTOCOL.md §7)

/** Announce interval a tracker tells its nodes by default, ms, and the least it accepts (tests) (§7.2). */
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 30_000
export const MIN_ANNOUNCE_INTERVAL_MS = 1_000
/** A peer is dropped after this many missed announce intervals (Syncthing: 30 s / 90 s) (§7.3). */
export const ANNOUNCE_EXPIRY_INTERVALS = 3
/** Most library entries added, and content ids removed, in one TANN (§7.3). */
export const MAX_ANNOUNCE_ENTRIES = 200
/** Most files a tracker indexes for one peer (the library's own cap) (§7.3). */
export const MAX_FILES_PER_PEER = 100_000
/** Peers in one TPRS reply by default and at most (opentracker: 50; RFC 7846 suggests < 30) (§7.5). */
export const TRACKER_PEERS_DEFAULT = 30
export const TRACKER_PEERS_MAX = 50
/** Holders listed per result in TFND and at most in TWHO (§7.6, §7.7). */
export const TRACKER_HOLDERS_PER_RESULT = 5
export const TRACKER_HOLDERS_MAX = 50
/** Results in one TFND reply at most (OpenNap: 100) (§7.7). */
export const TRACKER_RESULTS_MAX = 100
/** Announce rate limit per peer address: a bucket of this many, refilled at this many per second (§7.3). */
export const ANNOUNCE_BURST = 32
export const ANNOUNCE_REFILL_PER_S = 8
/** Names a tracker indexes for all peers of one host address, and their UTF-8 bytes (0 = no cap) (§7.3). */
export const TRACKER_NAMES_PER_HOST = 100_000
export const TRACKER_NAME_BYTES_PER_HOST = 16 * 1024 * 1024
/** Names a tracker indexes in all, and their UTF-8 bytes (0 = no cap) (§7.3). */
export const TRACKER_NAMES_MAX = 500_000
export const TRACKER_NAME_BYTES_MAX = 64 * 1024 * 1024
/** Distinct words of a TFND query after de-duplication (§7.7). */
export const MAX_QUERY_WORDS = 16
/** Work units one TFND may spend (vocabulary tokens compared + candidate word checks) (§7.7). */
export const SEARCH_WORK_BUDGET = 100_000
/** TFND/TWHO rate limit per host address: a bucket of this many, refilled at this many per second (§7.7). */
export const SEARCH_BURST = 20
export const SEARCH_REFILL_PER_S = 10
/** Default TCP port of a tracker. */
export const DEFAULT_TRACKER_PORT = 9410

// ---------------------------------------------------------------- reaching a node (PROTOCOL.md §7.10, §7.11)

/** A reversal or punch token: this many random bytes, hex (§7.10). */
export const REACH_TOKEN_BYTES = 16
/** A requester waits this long for the holder's reversed connection, ms (§7.10). */
export const REVERSAL_TIMEOUT_MS = 4_000
/** A punch (tracker wait for the holder's TPCH, then the simultaneous connect) takes at most this long, ms (§7.11). */
export const PUNCH_TIMEOUT_MS = 3_500
/** Pushes a tracker sends one holder: a bucket of this many, refilled at this many per second (§7.10). */
export const PUSH_BURST = 32
export const PUSH_REFILL_PER_S = 8
/** A control connection sends PING this often when the tracker's session idle time is not known, ms. */
export const CONTROL_PING_MS = 20_000
/** A tracker's dial-back check of a registered node gives up after this long, ms (§7.10). */
export const DIAL_BACK_TIMEOUT_MS = 2_000

// ---------------------------------------------------------------- relay (PROTOCOL.md §10)

/** Bytes of a circuit token (random; hex on the wire: 32 characters) (§10.3). */
export const RELAY_TOKEN_BYTES = 16
/** A relay writes a heartbeat on every reservation this often, ms; a holder that hears nothing for 3 × reconnects (§10.2). */
export const RELAY_HEARTBEAT_MS = 20_000
/** Both ends of a circuit must join the data port within this time of the RCON, ms (§10.3). */
export const RELAY_JOIN_TIMEOUT_MS = 10_000
/** A spliced pair with no byte either way for this long is closed, ms (§10.5). */
export const RELAY_IDLE_TIMEOUT_MS = 60_000
/** Default caps of a relay (§10.5): reservations in all and per host, circuits in all and per peer. */
export const RELAY_MAX_RESERVATIONS = 256
export const RELAY_MAX_RESERVATIONS_PER_HOST = 8
export const RELAY_MAX_CIRCUITS = 128
export const RELAY_MAX_CIRCUITS_PER_PEER = 16
/** Bytes a relay carries for one peer per hour by default (§10.5): 8 GiB. */
export const RELAY_BYTES_PER_PEER_HOUR = 8 * 1024 ** 3
