/**
 * The relay inside a private group, on loopback (PROTOCOL.md §10, SECURITY.md "Relay"): members
 * fetch through a group tracker's relay with their TLS end to end (the holder is the TLS server on
 * the spliced socket); a member of another group and plain TCP get nothing from the relay; a
 * member revoked later loses its reservation at once. (The capture on a relay host is in
 * test/lab/relay.test.ts.)
 */
import test from 'ava'
import { once } from 'node:events'
import path from 'node:path'
import { TrackerGroup } from '../../src/group/tracker-group.ts'
import { MSG } from '../../src/protocol/constants.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { createTracker } from '../../src/tracker/create.ts'
import type { ReservationStatus } from '../../src/relay/reservation.ts'
import { rawExchange } from '../helpers/raw.ts'
import { contentIdFile, shareWith, SMALL_CLIP, startNode, VIDEO_DIR } from '../helpers/nodes.ts'
import { makeGroup, tlsExchange } from '../group/helpers.ts'

test('members fetch through a group relay with TLS end to end; strangers get nothing; a revoked holder loses its reservation', async (t) => {
  const g = await makeGroup(t, { alice: true, bob: false })
  const others = await makeGroup(t, { mallory: true }, 'others')
  const tr = createTracker({ host: '127.0.0.1', port: 0, dataDir: null, group: new TrackerGroup(g.dir), relay: {} })
  t.teardown(() => tr.stop())
  await tr.start()
  const relay = `127.0.0.1:${tr.port}`
  const holder = await startNode(t, { group: g.creds.alice!, shares: [await shareWith(t, [SMALL_CLIP])], relay: { via: [relay] } })
  const res = holder.relay.reservations[0]!
  if (res.status.state !== 'reserved') await once(res, 'status')
  t.is(res.status.state, 'reserved')

  const fetcher = await startNode(t, { group: g.creds.bob! })
  fetcher.relayedAt(holder.id, { host: '127.0.0.1', port: tr.port })
  const entry = holder.library.entries().find((e) => e.name === SMALL_CLIP)!
  const got = await fetcher.fetch({ name: SMALL_CLIP, holder: holder.id, contentId: entry.cid!, size: entry.size }).start()
  t.is(got.sha256, await contentIdFile(path.join(VIDEO_DIR, SMALL_CLIP)))
  t.true(tr.relay!.status().bytesRelayed > entry.size, 'the bytes went through the relay')

  // A member of another group: refused at the relay's TLS, no frame. Plain TCP: no frame either.
  const rcon = JSON.stringify({ to: holder.id })
  const foreign = await tlsExchange(tr.port, MSG.RCON, rcon, { key: others.creds.mallory!.key, cert: others.creds.mallory!.cert })
  t.deepEqual(foreign.frames, [])
  const plain = await rawExchange(tr.port, encodeFrame(MSG.RCON, rcon))
  t.deepEqual(plain.frames, [])

  // Revoking alice ends her reservation on the relay (her TLS connection is closed).
  const lost = new Promise<ReservationStatus>((resolve) => res.on('status', (s: ReservationStatus) => s.state !== 'reserved' && resolve(s)))
  await g.admin.revoke('alice')
  const st = await lost
  t.not(st.state, 'reserved')
  t.false(tr.relay!.has(holder.id))
})
