/**
 * Payload codecs for every message (docs/PROTOCOL.md §3 legacy, §4 extensions), one import for
 * the rest of the code. The codecs live by family: peer-id.ts (peer ids, ports, the malformed
 * error), legacy-messages.ts (§3: whitespace-split ASCII, as btpeer sends it) and
 * extension-messages.ts (§4: checked JSON objects). The message table (table.ts) names them.
 */
export * from './peer-id.ts'
export * from './legacy-messages.ts'
export * from './extension-messages.ts'
