/**
 * One fetch for bench/relay.ts, run inside a lab host: an in-process node fetches a content id
 * from a holder, either by dialling it or through a relay (told that the holder is relayed, as
 * a tracker's TFND/TWHO would), and prints one JSON line: {ms, ttfbMs, bytes, connectMs}. Times in
 * ms from the fetch call; ttfbMs = to the first file byte received; connectMs = the median of 5
 * NAME requests (one connection each: a circuit each through the relay) made before the fetch;
 * circuits / sparesUsed = circuits opened through the relay, and RGET runs started on a spare one;
 * waits = ms each RGET of the download waited for its circuit.
 *   node --import=tsx bench/relay-fetch.ts HOLDER_ID CID SIZE OUT_DIR direct|RELAY_HOST:PORT [spares|no-spares]
 */
import { P2PNode } from '../src/app/node.ts'
import { requestText } from '../src/net/client.ts'
import { parsePeerId } from '../src/protocol/messages.ts'

const [holder, cid, size, out, via, spares] = process.argv.slice(2) as [string, string, string, string, string, string?]
const node = new P2PNode({ dataDir: null, stabilizeIntervalMs: 0, announce: false, downloadsDir: out })
await node.start()
node.relay.route.spares = spares !== 'no-spares'
if (via !== 'direct') node.relayedAt(holder, parsePeerId(via))
const names: number[] = []
for (let i = 0; i < 5; i++) {
  const n0 = performance.now()
  // With the node's routes, as its downloads go (a NAME alone would dial directly): through the
  // relay when it was told the holder is relayed; no spare circuit for a NAME.
  await requestText(parsePeerId(holder), 'NAME', '', { transport: node.transport, routes: node.reach.routes, routeCache: node.reach.cache })
  names.push(performance.now() - n0)
}
const connectMs = names.sort((a, b) => a - b)[2]
// How long each RGET of the download waited for its circuit (the relay route's open): what a
// spare circuit saves (the HASH before them never has one).
const waits: number[] = []
const route = node.relay.route
const open = route.open.bind(route)
route.open = async (to, o) => {
  const w0 = performance.now()
  const socket = await open(to, o)
  if (o.type === 'RGET') waits.push(performance.now() - w0)
  return socket
}
const t0 = performance.now()
let ttfbMs = -1
const d = node.fetch({ name: 'bench.mp4', holder, contentId: cid, size: Number(size) })
d.once('data', () => (ttfbMs = performance.now() - t0))
const r = await d.start()
const ms = performance.now() - t0
const { circuits, sparesUsed } = node.relay.route.counts
console.log(JSON.stringify({ ms, ttfbMs, connectMs, bytes: r.size, via: node.relay.via(holder) ? 'relay' : 'direct', circuits, sparesUsed, waits }))
await node.stop()
process.exit(0)
