/**
 * Private groups (issue #6): members search and fetch over mutual TLS; a non-member (plain TCP,
 * TLS without a certificate, a self-signed one, one from another group) gets nothing for any
 * message type, from a node or the tracker; a captured fetch does not contain the file's bytes.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Revocations } from '../../src/group/revocation.ts'
import { TrackerGroup } from '../../src/group/tracker-group.ts'
import { GroupTransport } from '../../src/group/transport.ts'
import { request } from '../../src/net/client.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { createTracker } from '../../src/tracker/create.ts'
import { rawExchange } from '../helpers/raw.ts'
import { BIG_CLIP, contentIdFile, shareWith, SMALL_CLIP, startNode, VIDEO_DIR } from '../helpers/nodes.ts'
import { captureProxy, makeGroup, selfSigned, tlsExchange } from './helpers.ts'
import { firstResult, SEARCH_BOUND_MS } from '../helpers/search.ts'

const CID = 'a'.repeat(64)
/** One plausible request of every type a node or tracker answers. */
const REQUESTS: Array<[string, string]> = [
  ['NAME', ''],
  ['PING', ''],
  ['LIST', ''],
  ['JOIN', '127.0.0.1:1234 127.0.0.1 1234'],
  ['QUER', '127.0.0.1:1234 lebiniou 3'],
  ['RESP', '127.0.0.1:1234 x.mp4'],
  ['FGET', SMALL_CLIP],
  ['QUIT', '127.0.0.1:1234'],
  ['CAPS', ''],
  ['SRCH', JSON.stringify({ qid: '00'.repeat(8), origin: '127.0.0.1:1234', q: 'lebiniou', ttl: 2, hops: 0 })],
  ['HITS', JSON.stringify({ qid: '00'.repeat(8), holder: '127.0.0.1:1234', results: [] })],
  ['RGET', JSON.stringify({ name: SMALL_CLIP, offset: 0 })],
  ['HASH', JSON.stringify({ cid: CID })],
  ['TREG', JSON.stringify({ port: 1234 })],
  ['TANN', JSON.stringify({ port: 1234, base: 0, seq: 1, add: [], remove: [] })],
  ['TPRS', '{}'],
  ['TWHO', JSON.stringify({ cid: CID })],
  ['TFND', JSON.stringify({ q: 'lebiniou' })],
  ['TSTA', '{}'],
  ['TREV', '']
]

test('a member searches and fetches from a publisher over mutual TLS (SHA-256 checked)', async (t) => {
  const g = await makeGroup(t, { alice: true, bob: false })
  const alice = await startNode(t, { group: g.creds.alice, shares: [await shareWith(t, [BIG_CLIP])] })
  const bob = await startNode(t, { group: g.creds.bob })
  t.is(alice.transport.kind, 'group')
  await bob.join(alice.id)
  t.true(alice.peers.has(bob.id), 'JOIN over TLS, verified by dialling back')
  const r = await firstResult(bob.search('12-19-53', { timeoutMs: SEARCH_BOUND_MS }))
  t.truthy(r, 'alice answered the search')
  const res = await bob.fetch(r!).start()
  t.is(res.sha256, await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP)))
})

test('a non-member gets nothing at any message type: plain TCP, no certificate, self-signed, another group', async (t) => {
  const g = await makeGroup(t, { alice: true })
  const other = await makeGroup(t, { mallory: true }, 'others')
  const alice = await startNode(t, { group: g.creds.alice, shares: [await shareWith(t, [SMALL_CLIP])] })
  const tracker = createTracker({ dataDir: null, group: new TrackerGroup(g.dir) })
  t.teardown(() => tracker.stop())
  await tracker.start()
  const self = await selfSigned(t)
  const m = other.creds.mallory!
  const clients: Array<[string, { key?: string; cert?: string; ca?: string }]> = [
    ['no certificate', {}],
    ['self-signed', self],
    ['other group', { key: m.key, cert: m.cert, ca: m.ca }]
  ]
  for (const [what, port] of [
    ['node', alice.port],
    ['tracker', tracker.port]
  ] as const) {
    for (const [type, payload] of REQUESTS) {
      const plain = await rawExchange(port, encodeFrame(type, payload))
      t.is(plain.frames.length, 0, `${what} ${type} over plain TCP: no frame`)
      t.false(plain.bytes.includes(Buffer.from('REPL')) || plain.bytes.includes(Buffer.from('ERRO')), `${what} ${type} plain: nothing readable`)
      for (const [who, creds] of clients) {
        const r = await tlsExchange(port, type, payload, creds)
        t.is(r.bytes.length, 0, `${what} ${type} with ${who}: no application bytes (${r.error ?? 'closed'})`)
        t.is(r.frames.length, 0)
      }
    }
  }
  // The same requests with a member's credential are answered (the control).
  const ok = await tlsExchange(alice.port, 'NAME', '', g.creds.alice!)
  t.is(ok.frames[0]?.text, alice.id)
  t.is(alice.stats.searchesHandled, 0, 'no search reached the node')
  t.is(tracker.stats.registrations, 0, 'nothing reached the tracker')
})

test('a client refuses a server outside the group (the server is checked too)', async (t) => {
  const g = await makeGroup(t, { alice: true })
  const other = await makeGroup(t, { mallory: true }, 'others')
  const mallory = await startNode(t, { group: other.creds.mallory, shares: [await shareWith(t, [SMALL_CLIP])] })
  const alice = await startNode(t, { group: g.creds.alice })
  const err = await alice.join(mallory.id).then(
    () => null,
    (e: Error) => e
  )
  t.regex(String(err?.message), /cannot connect|certificate|alert|closed/i)
  t.is(alice.peers.size, 0)
})

test('traffic on the wire is not readable: a captured group fetch lacks the file bytes, a plain one has them', async (t) => {
  const file = path.join(VIDEO_DIR, BIG_CLIP)
  const bytes = await fs.readFile(file)
  const mid = Math.floor(bytes.length / 2)
  const window = bytes.subarray(mid, mid + 64)
  void window
  const run = async (group: boolean): Promise<Buffer> => {
    const g = group ? await makeGroup(t, { alice: true, bob: false }) : null
    const holder = await startNode(t, { ...(g ? { group: g.creds.alice } : {}), shares: [await shareWith(t, [BIG_CLIP])] })
    const fetcher = await startNode(t, g ? { group: g.creds.bob } : {})
    const proxy = await captureProxy(t, holder.port)
    const entry = holder.library.entries()[0]!
    const res = await fetcher.fetch({ name: entry.name, holder: `127.0.0.1:${proxy.port}`, contentId: entry.cid as string, size: entry.size }).start()
    t.is(res.sha256, entry.cid as string)
    return proxy.captured()
  }
  const plain = await run(false)
  t.true(plain.includes(window), 'control: the plain capture holds the file bytes')
  const secure = await run(true)
  t.true(secure.length > bytes.length, `the whole file went through the proxy (${secure.length} bytes)`)
  t.false(secure.includes(window), 'the TLS capture does not hold the 64-byte window')
  t.false(secure.includes(Buffer.from('REPL')), 'no frame header is visible either')
})

test('plain mode is unchanged: no TLS, a legacy-style request is answered', async (t) => {
  const node = await startNode(t)
  t.is(node.transport.kind, 'plain')
  const r = await rawExchange(node.port, encodeFrame('NAME', ''))
  t.is(r.frames[0]?.text, node.id)
  const frames = await request({ host: '127.0.0.1', port: node.port }, 'LIST')
  t.is(frames[0]?.payload.toString(), '0')
})

test('GroupTransport.identify names the member at an address', async (t) => {
  const g = await makeGroup(t, { alice: true, bob: false })
  const alice = await startNode(t, { group: g.creds.alice })
  const tr = new GroupTransport(g.creds.bob!, new Revocations(g.creds.bob!.ca, g.creds.bob!.group))
  const id = await tr.identify({ host: '127.0.0.1', port: alice.port })
  // alice serves with her nameless server certificate: she is her serial's pseudonym (member-names.test.ts).
  t.like(id, { name: `member#${g.creds.alice!.serial}`, publish: true, role: 'member', serial: g.creds.alice!.serial })
})
