/**
 * One fetch for bench/relay.ts, run inside a lab host: an in-process node fetches a content id
 * from a holder, either by dialling it or through a relay (told that the holder is relayed, as
 * a tracker's TFND/TWHO would), and prints one JSON line: {ms, ttfbMs, bytes, connectMs}. Times in
 * ms from the fetch call; ttfbMs = to the first file byte received; connectMs = the median of 5
 * NAME requests (one connection each: a circuit each through the relay) made before the fetch.
 *   node --import=tsx bench/relay-fetch.ts HOLDER_ID CID SIZE OUT_DIR direct|RELAY_HOST:PORT
 */
import { P2PNode } from '../src/app/node.ts'
import { requestText } from '../src/net/client.ts'
import { parsePeerId } from '../src/protocol/messages.ts'

const [holder, cid, size, out, via] = process.argv.slice(2) as [string, string, string, string, string]
const node = new P2PNode({ dataDir: null, stabilizeIntervalMs: 0, announce: false, downloadsDir: out })
await node.start()
if (via !== 'direct') node.relayedAt(holder, parsePeerId(via))
const names: number[] = []
for (let i = 0; i < 5; i++) {
  const n0 = performance.now()
  await requestText(parsePeerId(holder), 'NAME', '', { transport: node.transport })
  names.push(performance.now() - n0)
}
const connectMs = names.sort((a, b) => a - b)[2]
const t0 = performance.now()
let ttfbMs = -1
const d = node.fetch({ name: 'bench.mp4', holder, contentId: cid, size: Number(size) })
d.once('data', () => (ttfbMs = performance.now() - t0))
const r = await d.start()
const ms = performance.now() - t0
console.log(JSON.stringify({ ms, ttfbMs, connectMs, bytes: r.size, via: node.relay.via(holder) ? 'relay' : 'direct' }))
await node.stop()
process.exit(0)
