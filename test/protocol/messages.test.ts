/**
 * Payload codecs (docs/PROTOCOL.md §3 legacy, §4 extensions). Legacy examples come from
 * ../shared/reference/btpeer-wire.md "Messages"; every rejection must be a ProtocolError with
 * code ERR_MALFORMED_PAYLOAD (tests assert `code`, STYLE.md "Errors").
 */
import test, { type ExecutionContext } from 'ava'
import fc from 'fast-check'
import { MAX_HITS, MAX_QUERY_LENGTH, MAX_TTL } from '../../src/protocol/constants.ts'
import { ProtocolError } from '../../src/protocol/errors.ts'
import {
  decodeLegacyName,
  encodeLegacyName,
  formatHits,
  formatJoin,
  formatQuer,
  formatRangeMeta,
  formatResp,
  formatRget,
  formatSrch,
  parseHits,
  parseJoin,
  parsePeerId,
  parsePort,
  parseQuer,
  parseRangeMeta,
  parseResp,
  parseRget,
  parseSrch
} from '../../src/protocol/messages.ts'

function malformed(t: ExecutionContext, fn: () => unknown, label: string): void {
  const err = t.throws(fn, { instanceOf: ProtocolError }, label)
  t.is(err?.code, 'ERR_MALFORMED_PAYLOAD', label)
}

const QID = '0123456789abcdef0123456789abcdef'
const CID = 'a'.repeat(64)
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v))

// ------------------------------------------------------------------------------ legacy §3

test('parsePort accepts 1..65535 and rejects everything else', (t) => {
  t.is(parsePort('1'), 1)
  t.is(parsePort('9400'), 9400)
  t.is(parsePort('65535'), 65535)
  t.is(parsePort('09400'), 9400)
  for (const bad of ['0', '65536', '99999', '123456', 'abc', '', '-1', '+1', '1.5', ' 1', '1e3', '0x10', '٣']) malformed(t, () => parsePort(bad), bad)
})

test('parsePeerId: legacy "host:port" ids, IPv6 in brackets', (t) => {
  t.deepEqual(parsePeerId('127.0.0.1:9400'), { id: '127.0.0.1:9400', host: '127.0.0.1', port: 9400 })
  t.deepEqual(parsePeerId('example.org:1'), { id: 'example.org:1', host: 'example.org', port: 1 })
  t.deepEqual(parsePeerId('[::1]:9000'), { id: '[::1]:9000', host: '::1', port: 9000 })
  for (const bad of ['127.0.0.1', ':9400', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:abc', 'bad host:1', 'a/b:1', 'é:1', '']) {
    malformed(t, () => parsePeerId(bad), bad)
  }
})

test('parseJoin accepts the legacy example and extra whitespace', (t) => {
  t.deepEqual(parseJoin('127.0.0.1:9400 127.0.0.1 9400'), { id: '127.0.0.1:9400', host: '127.0.0.1', port: 9400 })
  t.deepEqual(parseJoin('  127.0.0.1:9400\t127.0.0.1   9400\n'), { id: '127.0.0.1:9400', host: '127.0.0.1', port: 9400 })
  const p = { id: '10.0.0.2:5000', host: '10.0.0.2', port: 5000 }
  t.deepEqual(parseJoin(formatJoin(p)), p)
})

test('parseJoin rejects wrong token counts, bad ports and bad ids', (t) => {
  for (const bad of [
    '',
    '127.0.0.1:9400',
    '127.0.0.1:9400 127.0.0.1',
    '127.0.0.1:9400 127.0.0.1 9400 extra',
    '127.0.0.1:9400 127.0.0.1 abc',
    '127.0.0.1:9400 127.0.0.1 0',
    '127.0.0.1:9400 127.0.0.1 70000',
    'nocolon 127.0.0.1 9400',
    '127.0.0.1:9400 bad/host 9400',
    // The peer id must be "<host>:<port>" of the same payload, or a peer could squat another's id.
    '10.9.9.9:1 127.0.0.1 9',
    '127.0.0.1:9400 127.0.0.1 1'
  ]) {
    malformed(t, () => parseJoin(bad), JSON.stringify(bad))
    // btpeer-wire.md documents one reply text for every malformed JOIN.
    t.regex(t.throws(() => parseJoin(bad))?.message ?? '', /^Join: incorrect arguments/, JSON.stringify(bad))
  }
  // The text a legacy peer documents for a wrong token count (btpeer-wire.md "Known defects").
  t.is(t.throws(() => parseJoin('127.0.0.1:9400 127.0.0.1'))?.message, 'Join: incorrect arguments')
})

test('parseQuer accepts the legacy example, caps the TTL', (t) => {
  t.deepEqual(parseQuer('127.0.0.1:9400 clip 4'), { returnId: '127.0.0.1:9400', key: 'clip', ttl: 4 })
  t.deepEqual(parseQuer('127.0.0.1:9400 clip 0'), { returnId: '127.0.0.1:9400', key: 'clip', ttl: 0 })
  t.is(parseQuer('127.0.0.1:9400 clip 100').ttl, MAX_TTL)
  const q = { returnId: '127.0.0.1:9401', key: 'lebiniou', ttl: 3 }
  t.deepEqual(parseQuer(formatQuer(q)), q)
})

test('parseQuer rejects a non-numeric TTL, wrong token counts, a bad return id, a long key', (t) => {
  for (const bad of [
    '127.0.0.1:9400 clip x',
    '127.0.0.1:9400 clip -1',
    '127.0.0.1:9400 clip 4.5',
    '127.0.0.1:9400 clip 1000',
    '127.0.0.1:9400 clip',
    '127.0.0.1:9400 two words 4',
    '',
    'nocolon clip 4',
    `127.0.0.1:9400 ${'k'.repeat(MAX_QUERY_LENGTH + 1)} 4`
  ]) {
    malformed(t, () => parseQuer(bad), JSON.stringify(bad.slice(0, 40)))
  }
  t.regex(t.throws(() => parseQuer('127.0.0.1:9400 clip x'))?.message ?? '', /^Query: incorrect arguments/)
})

test('parseResp accepts the legacy example and decodes percent-encoded names', (t) => {
  t.deepEqual(parseResp('clip.mp4 127.0.0.1:9400'), { name: 'clip.mp4', holder: '127.0.0.1:9400' })
  t.deepEqual(parseResp('My%20clip.mp4 127.0.0.1:9400'), { name: 'My clip.mp4', holder: '127.0.0.1:9400' })
  const r = { name: 'Ünïcode clip 1.mp4', holder: '127.0.0.1:9402' }
  t.deepEqual(parseResp(formatResp(r)), r)
})

test('parseResp rejects wrong token counts and a bad holder', (t) => {
  for (const bad of ['', 'clip.mp4', 'clip.mp4 127.0.0.1:9400 extra', 'clip.mp4 nocolon', 'clip.mp4 127.0.0.1:0', 'My clip.mp4 127.0.0.1:9400']) {
    malformed(t, () => parseResp(bad), JSON.stringify(bad))
  }
})

test('encodeLegacyName/decodeLegacyName: spaces, percent signs and non-ASCII round-trip as one token', (t) => {
  const cases: Array<[string, string]> = [
    ['Ünïcode clip 1.mp4', 'Ünïcode%20clip%201.mp4'],
    ['My clip.mp4', 'My%20clip.mp4'],
    ['100% done.mp4', '100%25%20done.mp4'],
    ['tab\there', 'tab%09here'],
    ['plain.mp4', 'plain.mp4'],
    ['nbsp\u00a0name', 'nbsp%C2%A0name']
  ]
  for (const [name, wire] of cases) {
    t.is(encodeLegacyName(name), wire, name)
    t.is(decodeLegacyName(wire), name, name)
  }
  // A legacy name with a stray '%' is not a valid escape: kept as is.
  t.is(decodeLegacyName('100%.mp4'), '100%.mp4')
})

test('property: encodeLegacyName gives one whitespace-free token that decodes to the name', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (name) => {
      const wire = encodeLegacyName(name)
      return !/\s/u.test(wire) && decodeLegacyName(wire) === name
    }),
    { numRuns: 1000 }
  )
  t.pass()
})

// ------------------------------------------------------------------------------ extensions §4

const NOT_OBJECTS = ['', 'not json', '{', '[]', '[{"qid":"x"}]', 'null', '"string"', '42', 'true']

test('parseSrch accepts a full search and caps the TTL', (t) => {
  const s = { qid: QID, origin: '127.0.0.1:9400', q: 'lebiniou clip', ttl: 4, hops: 0 }
  t.deepEqual(parseSrch(Buffer.from(formatSrch(s))), s)
  t.is(parseSrch(json({ ...s, ttl: 200 })).ttl, MAX_TTL)
  t.deepEqual(parseSrch(json({ ...s, q: '', cid: CID })), { ...s, q: '', cid: CID })
})

test('parseSrch rejects non-JSON, arrays, missing fields, bad qid/cid, oversized values', (t) => {
  for (const bad of NOT_OBJECTS) malformed(t, () => parseSrch(Buffer.from(bad)), bad)
  const ok = { qid: QID, origin: '127.0.0.1:9400', q: 'clip', ttl: 4, hops: 0 }
  const variants: Array<[string, unknown]> = [
    ['no qid', { ...ok, qid: undefined }],
    ['short qid', { ...ok, qid: QID.slice(1) }],
    ['upper-case qid', { ...ok, qid: QID.toUpperCase() }],
    ['non-hex qid', { ...ok, qid: 'g'.repeat(32) }],
    ['numeric qid', { ...ok, qid: 12345 }],
    ['no origin', { ...ok, origin: undefined }],
    ['bad origin', { ...ok, origin: 'nocolon' }],
    ['no q', { ...ok, q: undefined }],
    ['long q', { ...ok, q: 'x'.repeat(MAX_QUERY_LENGTH + 1) }],
    ['empty q, no cid', { ...ok, q: '   ' }],
    ['negative ttl', { ...ok, ttl: -1 }],
    ['ttl 256', { ...ok, ttl: 256 }],
    ['fractional ttl', { ...ok, ttl: 1.5 }],
    ['string ttl', { ...ok, ttl: '4' }],
    ['no hops', { ...ok, hops: undefined }],
    ['bad cid', { ...ok, cid: 'A'.repeat(64) }],
    ['short cid', { ...ok, cid: 'a'.repeat(63) }]
  ]
  for (const [label, v] of variants) malformed(t, () => parseSrch(json(v)), label)
})

test('parseHits accepts results and rejects bad ones, more than MAX_HITS included', (t) => {
  const hit = { name: 'clip.mp4', size: 1234, cid: CID, kind: 'video' }
  const h = { qid: QID, holder: '127.0.0.1:9401', results: [hit] }
  t.deepEqual(parseHits(Buffer.from(formatHits(h))), h)
  t.deepEqual(parseHits(json({ ...h, results: [] })).results, [])
  t.is(parseHits(json({ ...h, results: [{ ...hit, kind: undefined }] })).results[0]?.kind, 'other')
  t.is(parseHits(json({ ...h, results: Array(MAX_HITS).fill(hit) })).results.length, MAX_HITS)

  for (const bad of NOT_OBJECTS) malformed(t, () => parseHits(Buffer.from(bad)), bad)
  const variants: Array<[string, unknown]> = [
    ['no qid', { ...h, qid: undefined }],
    ['bad qid', { ...h, qid: 'zz' }],
    ['no holder', { ...h, holder: undefined }],
    ['bad holder', { ...h, holder: '127.0.0.1:0' }],
    ['results not an array', { ...h, results: { 0: hit } }],
    ['no results', { ...h, results: undefined }],
    ['too many results', { ...h, results: Array(MAX_HITS + 1).fill(hit) }],
    ['result not an object', { ...h, results: ['clip.mp4'] }],
    ['null result', { ...h, results: [null] }],
    ['result without a name', { ...h, results: [{ ...hit, name: undefined }] }],
    ['negative size', { ...h, results: [{ ...hit, size: -1 }] }],
    ['string size', { ...h, results: [{ ...hit, size: '12' }] }],
    ['unsafe size', { ...h, results: [{ ...hit, size: 2 ** 60 }] }],
    ['bad cid', { ...h, results: [{ ...hit, cid: 'nope' }] }],
    ['long name', { ...h, results: [{ ...hit, name: 'n'.repeat(2000) }] }]
  ]
  for (const [label, v] of variants) malformed(t, () => parseHits(json(v)), label)
})

test('parseRget accepts cid or name, with or without a length', (t) => {
  t.deepEqual(parseRget(Buffer.from(formatRget({ cid: CID, offset: 0 }))), { cid: CID, offset: 0 })
  t.deepEqual(parseRget(json({ name: 'clip.mp4', offset: 10, length: 100 })), { name: 'clip.mp4', offset: 10, length: 100 })
  t.deepEqual(parseRget(json({ cid: CID, offset: 0, length: 0 })), { cid: CID, offset: 0, length: 0 })
})

test('parseRget rejects non-JSON, arrays, missing or bad fields', (t) => {
  for (const bad of NOT_OBJECTS) malformed(t, () => parseRget(Buffer.from(bad)), bad)
  const variants: Array<[string, unknown]> = [
    ['neither cid nor name', { offset: 0 }],
    ['no offset', { cid: CID }],
    ['negative offset', { cid: CID, offset: -1 }],
    ['fractional offset', { cid: CID, offset: 0.5 }],
    ['unsafe offset', { cid: CID, offset: 2 ** 60 }],
    ['negative length', { cid: CID, offset: 0, length: -5 }],
    ['bad cid', { cid: CID.slice(2), offset: 0 }],
    ['empty name', { name: '', offset: 0 }],
    ['numeric name', { name: 7, offset: 0 }],
    ['long name', { name: 'n'.repeat(1025), offset: 0 }]
  ]
  for (const [label, v] of variants) malformed(t, () => parseRget(json(v)), label)
})

test('parseRangeMeta accepts the meta reply and rejects bad ones', (t) => {
  const m = { name: 'clip.mp4', size: 5000, cid: CID, offset: 0, length: 5000 }
  t.deepEqual(parseRangeMeta(Buffer.from(formatRangeMeta(m))), m)
  for (const bad of NOT_OBJECTS) malformed(t, () => parseRangeMeta(Buffer.from(bad)), bad)
  for (const key of Object.keys(m)) malformed(t, () => parseRangeMeta(json({ ...m, [key]: undefined })), `no ${key}`)
  malformed(t, () => parseRangeMeta(json({ ...m, cid: 'x' })), 'bad cid')
  malformed(t, () => parseRangeMeta(json({ ...m, size: -1 })), 'negative size')
  malformed(t, () => parseRangeMeta(json({ ...m, length: 1.5 })), 'fractional length')
})

test('property: the JSON parsers throw only ProtocolError ERR_MALFORMED_PAYLOAD on arbitrary input', (t) => {
  const parsers = [parseSrch, parseHits, parseRget, parseRangeMeta]
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.json().map((s) => Buffer.from(s)),
    fc.anything().map((v) => Buffer.from(JSON.stringify(v) ?? 'undefined'))
  )
  fc.assert(
    fc.property(input, (buf) => {
      for (const parse of parsers) {
        try {
          parse(buf)
        } catch (err) {
          if (!(err instanceof ProtocolError) || err.code !== 'ERR_MALFORMED_PAYLOAD') throw err
        }
      }
    }),
    { numRuns: 1000 }
  )
  t.pass()
})
