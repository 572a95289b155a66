/**
 * Member relays at the tracker (PROTOCOL.md §10.7): who is listed (registered with RRES, found
 * dialable by the dial-back check), what a holder may name (only a listed relay), and the wire
 * fields (TANN `relays` both ways, TFND/TWHO `via`) with their bounds.
 */
import test from 'ava'
import type { Reachability } from '../../src/protocol/reach-messages.ts'
import { formatAnnounce, formatAnnounceReply, formatHitList, parseAnnounce, parseAnnounceReply, parseHitList } from '../../src/protocol/tracker-messages.ts'
import { MemberRelays } from '../../src/tracker/member-relays.ts'
import { ProtocolError } from '../../src/protocol/errors.ts'

const CID = 'a'.repeat(64)

test('listed: members registered with RRES whose dial-back check passed, never the asker; a holder names only a listed relay', (t) => {
  const reach = new Map<string, Reachability>([
    ['20.0.20.30:9400', 'direct'],
    ['20.0.20.31:9400', 'unreachable'],
    ['20.0.20.21:9400', 'mapped']
  ])
  const m = new MemberRelays((id) => reach.get(id) ?? 'unknown')
  m.register('20.0.20.30:9400', ['CAPS', 'RRES', 'RCON'])
  m.register('20.0.20.31:9400', ['RRES'])
  m.register('20.0.20.21:9400', ['RRES'])
  m.register('20.0.20.40:9400', ['RRES']) // not checked yet
  m.register('20.0.20.22:9400', ['CAPS'])
  t.deepEqual(m.list(), ['20.0.20.30:9400', '20.0.20.21:9400'])
  t.deepEqual(m.list('20.0.20.30:9400'), ['20.0.20.21:9400'], 'not the asker itself')

  m.announce('20.0.20.22:9400', ['10.9.9.9:22', '20.0.20.30:9400'])
  t.is(m.via('20.0.20.22:9400'), '20.0.20.30:9400', 'the first listed relay it names')
  m.announce('20.0.20.23:9400', ['10.9.9.9:22'])
  t.is(m.via('20.0.20.23:9400'), undefined, 'an address that is no member relay is never handed to fetchers')
  m.announce('20.0.20.22:9400', undefined)
  t.is(m.via('20.0.20.22:9400'), '20.0.20.30:9400', 'an announce without the field changes nothing')
  m.announce('20.0.20.22:9400', [])
  t.is(m.via('20.0.20.22:9400'), undefined, 'an empty list: the reservation was lost')

  m.announce('20.0.20.22:9400', ['20.0.20.30:9400'])
  m.register('20.0.20.30:9400', ['CAPS'])
  t.is(m.via('20.0.20.22:9400'), undefined, 'a relay that registers again without RRES is no relay')
  m.register('20.0.20.30:9400', ['RRES'])
  m.announce('20.0.20.22:9400', ['20.0.20.30:9400'])
  m.drop('20.0.20.30:9400')
  t.is(m.via('20.0.20.22:9400'), undefined, 'a relay that left takes its holders with it')
  t.deepEqual(m.counts(), { relays: 3, reserved: 0 })
})

test('codecs: TANN "relays" both ways, hits "via" (only holders of the hit, only peer ids), bounds', (t) => {
  const a = parseAnnounce(Buffer.from(formatAnnounce({ port: 9400, base: 0, seq: 0, add: [], remove: [], relays: ['20.0.20.30:9400'] })), '20.0.20.22')
  t.deepEqual(a.relays, ['20.0.20.30:9400'])
  t.deepEqual(parseAnnounce(Buffer.from(formatAnnounce({ port: 9400, base: 0, seq: 0, add: [], remove: [], relays: [] })), '20.0.20.22').relays, [])
  t.is(parseAnnounce(Buffer.from('{"port":9400,"base":0,"seq":0}'), '1.2.3.4').relays, undefined)
  for (const bad of ['"x"', '["not a peer"]', '[1]', JSON.stringify(['1.1.1.1:1', '1.1.1.1:2', '1.1.1.1:3', '1.1.1.1:4', '1.1.1.1:5'])]) {
    const err = t.throws(() => parseAnnounce(Buffer.from(`{"port":9400,"base":0,"seq":0,"relays":${bad}}`), '1.2.3.4'), { instanceOf: ProtocolError })
    t.is(err?.code, 'ERR_MALFORMED_PAYLOAD', bad)
  }
  const reply = parseAnnounceReply(Buffer.from(formatAnnounceReply({ ok: true, seq: 3 }, 30_000, ['20.0.20.30:9400'])))
  t.deepEqual(reply, { ok: true, seq: 3, interval: 30_000, relays: ['20.0.20.30:9400'] })
  t.false('relays' in parseAnnounceReply(Buffer.from(formatAnnounceReply({ ok: true, seq: 3 }, 30_000))), 'absent when there is none (§9)')

  const hit = { cid: CID, name: 'a.mp4', size: 1, kind: 'video' as const, holders: 2, peers: ['20.0.20.22:9400', '20.0.20.23:9400'] }
  const text = formatHitList([hit], undefined, false, undefined, (p) => (p === '20.0.20.22:9400' ? '20.0.20.30:9400' : undefined))
  t.deepEqual(parseHitList(Buffer.from(text), 'TFND reply')[0]?.via, { '20.0.20.22:9400': '20.0.20.30:9400' })
  const forged = JSON.stringify({ results: [{ ...hit, via: { '20.0.20.22:9400': 'not a peer', '9.9.9.9:1': '20.0.20.30:9400', '20.0.20.23:9400': '20.0.20.30:9400' } }] })
  t.deepEqual(parseHitList(Buffer.from(forged), 'TFND reply')[0]?.via, { '20.0.20.23:9400': '20.0.20.30:9400' }, 'only holders of the hit, only peer ids')
})
