/**
 * Fuzzing (issue #11): fast-check frames over every message type of the table against a live
 * node and a live tracker (test/helpers/fuzz.ts). A smaller run than `npm run fuzz` (10⁵
 * frames, bench/fuzz.ts): zero local bugs, every connection closed with whole frames, and both
 * answer a good request afterwards.
 */
import test from 'ava'
import { requestText } from '../src/net/client.ts'
import { parseTrackerStatus } from '../src/protocol/tracker-messages.ts'
import { ALL_TYPES, fuzz, fuzzCases, startFuzzTargets, type FuzzTargets } from './helpers/fuzz.ts'

const FRAMES = 1000
let targets: FuzzTargets

test.before(async () => {
  targets = await startFuzzTargets()
})
test.after.always(() => targets?.stop())

for (const side of ['node', 'tracker'] as const) {
  test.serial(`${FRAMES} fuzzed frames of every message type to a live ${side}: no crash, no local bug, it serves afterwards`, async (t) => {
    const seed = Date.now() % 2 ** 31
    const port = side === 'node' ? targets.node.port : targets.tracker.port
    const r = await fuzz(port, fuzzCases(ALL_TYPES, targets.known, side === 'tracker'), FRAMES, seed, 8)
    t.log(`seed ${seed}: ${r.frames} frames on ${r.connections} connections in ${Math.round(r.elapsedMs)} ms; replies ${JSON.stringify(r.replies)}`)
    t.deepEqual(r.failures, [], `seed ${seed}`)
    t.deepEqual(targets.bugs, [], `seed ${seed}`)
    t.true((r.replies.ERRO ?? 0) > 0 && (r.replies.REPL ?? 0) > 0, 'the fuzzer reached both refusals and answers')
    if (side === 'node') t.is(await requestText({ host: '127.0.0.1', port }, 'NAME', ''), targets.node.id)
    else t.is(parseTrackerStatus(Buffer.from(await requestText({ host: '127.0.0.1', port }, 'TSTA', '{}'))).tracker, targets.tracker.id)
  })
}
