/**
 * The message table (src/protocol/table.ts): every type has one row, and what is derived from the
 * rows equals what the code had written out by hand before the table (limits, group rights, rate
 * classes, CAPS features, handler tables), so the move changed nothing on the wire.
 */
import test from 'ava'
import { MSG } from '../../src/protocol/constants.ts'
import { requestText } from '../../src/net/client.ts'
import { createHandlers } from '../../src/handlers/registry.ts'
import type { NodeContext } from '../../src/node/context.ts'
import { CAPS_FEATURES, LEGACY_TYPES, MESSAGES, PUBLISHER_TYPES, QUERY_TYPES, REQUEST_LIMITS, RESULT_TYPES, replyPolicy, requestLimit, rowOf } from '../../src/protocol/table.ts'
import { createTrackerHandlers } from '../../src/tracker/handlers.ts'
import type { Tracker } from '../../src/tracker/tracker.ts'
import { startNode } from '../helpers/nodes.ts'

test('every MSG type has exactly one row, and every row is a MSG type', (t) => {
  t.deepEqual(Object.keys(MESSAGES).sort(), Object.values(MSG).sort())
  for (const type of Object.values(MSG)) t.truthy(rowOf(type), type)
  t.is(rowOf('ABCD'), undefined)
  t.is(rowOf('toString'), undefined, 'no prototype keys')
})

test('request limits equal the numbers of PROTOCOL.md §2 (the former REQUEST_LIMITS), in bytes', (t) => {
  t.deepEqual(
    { ...REQUEST_LIMITS },
    {
      NAME: 1024,
      PING: 1024,
      LIST: 1024,
      JOIN: 1024,
      QUER: 1024,
      RESP: 4096,
      FGET: 4096,
      QUIT: 1024,
      CAPS: 1024,
      SRCH: 4096,
      HITS: 65536,
      RGET: 4096,
      HASH: 1024,
      BRWS: 4096,
      LINK: 1024,
      TREG: 1024,
      TANN: 65536,
      TBYE: 1024,
      TPRS: 1024,
      TWHO: 1024,
      TFND: 1024,
      TSTA: 1024,
      TSES: 1024,
      TREV: 65536,
      TCTL: 1024,
      TCON: 1024,
      TPCH: 1024,
      RVRS: 1024,
      RRES: 1024,
      RCON: 1024,
      RJOI: 1024
    }
  )
  // Reply types are never requests: the servers answer them ERR_UNKNOWN_TYPE.
  t.is(requestLimit('REPL'), undefined)
  t.is(requestLimit('ERRO'), undefined)
  t.is(requestLimit('ABCD'), undefined)
})

test('derived type sets equal the former hand-written sets (group rights §8.3, rate classes)', (t) => {
  t.deepEqual([...PUBLISHER_TYPES].sort(), ['BRWS', 'FGET', 'HASH', 'RGET'])
  t.deepEqual([...RESULT_TYPES].sort(), ['HITS', 'RESP'])
  t.deepEqual([...QUERY_TYPES].sort(), ['BRWS', 'QUER', 'SRCH'])
  t.deepEqual([...LEGACY_TYPES].sort(), ['ERRO', 'FGET', 'JOIN', 'LIST', 'NAME', 'PING', 'QUER', 'QUIT', 'REPL', 'RESP'])
  t.deepEqual(CAPS_FEATURES, ['CAPS', 'SRCH', 'HITS', 'RGET', 'HASH', 'BRWS', 'LINK'])
})

test('reply policies: control bounded, RGET meta then stream, HASH meta then hash frames, ERRO always', (t) => {
  t.deepEqual(replyPolicy('control', 'REPL'), { maxLength: 65536 })
  t.deepEqual(replyPolicy('none', 'ERRO'), { maxLength: 4096 })
  t.is(replyPolicy('none', 'REPL'), undefined)
  t.is(replyPolicy('control', 'NAME'), undefined)
  t.deepEqual(replyPolicy('range', 'REPL', true), { maxLength: 4096 })
  t.true(replyPolicy('range', 'REPL', false)?.stream)
  t.deepEqual(replyPolicy('range', 'REPL', false), { maxLength: 2048, stream: true }, 'RGET data frames: 2 KB unless asked for large ones')
  t.deepEqual(replyPolicy('range', 'REPL', false, true), { maxLength: 1024 * 1024, stream: true }, 'an RGET with "frame": at most MAX_RANGE_FRAME')
  t.deepEqual(replyPolicy('hashes', 'REPL', true), { maxLength: 4096 })
  t.deepEqual(replyPolicy('hashes', 'REPL', false), { maxLength: 65536 })
  t.true(replyPolicy('file', 'REPL')?.stream)
  t.is(MESSAGES.RGET.reply, 'range')
  t.is(MESSAGES.HASH.reply, 'hashes')
  t.is(MESSAGES.FGET.reply, 'file')
})

test('the handler tables serve exactly the rows of their scope (TREV comes from the group, TSES from the server)', (t) => {
  const node = createHandlers({} as NodeContext)
  t.deepEqual([...node.keys()], ['NAME', 'PING', 'LIST', 'JOIN', 'QUER', 'RESP', 'FGET', 'QUIT', 'CAPS', 'SRCH', 'HITS', 'RGET', 'HASH', 'BRWS'])
  const tracker = createTrackerHandlers({} as Tracker)
  t.deepEqual([...tracker.keys()], ['NAME', 'PING', 'TREG', 'TANN', 'TBYE', 'TPRS', 'TWHO', 'TFND', 'TSTA'])
  for (const [type, row] of Object.entries(MESSAGES)) {
    const r: { scope: string; handler?: string } = row
    if (r.handler) continue
    t.is(node.has(type), r.scope === 'node' || r.scope === 'both', `${type} in the node table`)
    t.is(tracker.has(type), r.scope === 'tracker' || r.scope === 'both', `${type} in the tracker table`)
  }
})

test('the CAPS reply of a live node: features CAPS SRCH HITS RGET HASH BRWS in table order, then the requester as seen (you)', async (t) => {
  const node = await startNode(t)
  const text = await requestText({ host: '127.0.0.1', port: node.port }, 'CAPS')
  t.is(text, `{"proto":"p2ptube","version":2,"id":"${node.id}","features":["CAPS","SRCH","HITS","RGET","HASH","BRWS","LINK"],"you":"127.0.0.1"}`)
})

test('replies once built inline are codecs now: each round-trips through its parser', (t) => {
  const cid = 'a'.repeat(64)
  const meta = { cid, size: 70_000, pieceSize: 65536, pieces: 2 }
  t.deepEqual(MESSAGES.HASH.codec.parseMeta(Buffer.from(MESSAGES.HASH.codec.formatMeta(meta))), meta)
  t.is(MESSAGES.HASH.codec.formatMeta(meta), JSON.stringify({ cid, size: 70_000, pieceSize: 65536, pieces: 2 }), 'the HASH meta bytes are unchanged')
  const reg = { peer: '127.0.0.1:9000', interval: 30_000, expiry: 90_000, tracker: 'abc' }
  t.deepEqual(MESSAGES.TREG.codec.parseReply(Buffer.from(MESSAGES.TREG.codec.formatReply(reg))), reg)
  t.deepEqual(MESSAGES.TANN.codec.parseReply(Buffer.from(MESSAGES.TANN.codec.formatReply({ ok: true, seq: 3 }, 30_000))), { ok: true, seq: 3, interval: 30_000 })
  t.deepEqual(MESSAGES.TPRS.codec.parseReply(Buffer.from(MESSAGES.TPRS.codec.formatReply(['127.0.0.1:1']))), ['127.0.0.1:1'])
  t.is(MESSAGES.TBYE.codec.formatReply(true), '{"ok":true,"removed":true}')
})
