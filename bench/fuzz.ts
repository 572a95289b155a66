/**
 * Fuzz soak (issue #11): 10⁵ fast-check frames over every message type of src/protocol/table.ts,
 * half to a live node and half to a live tracker (test/helpers/fuzz.ts), each on its own
 * connection. Prints frames/s, the replies and ERRO codes seen, failures (a connection not
 * closed, bytes that are not frames, ERR_INTERNAL), local bugs (handler errors, uncaught
 * exceptions), RSS before and after, and whether both still answer a good request.
 *
 * Usage: npm run fuzz [-- --frames 100000 --seed N --concurrency 32]; exit 1 on any failure.
 */
import { requestText } from '../src/net/client.ts'
import { ALL_TYPES, fuzz, fuzzCases, startFuzzTargets, type FuzzReport } from '../test/helpers/fuzz.ts'
import { arg } from './args.ts'

const FRAMES = arg('frames', 100_000)
const SEED = arg('seed', Date.now() % 2 ** 31)
const CONCURRENCY = arg('concurrency', 32)

const mb = (n: number): string => `${(n / 1e6).toFixed(0)} MB`

async function main(): Promise<number> {
  const targets = await startFuzzTargets()
  const rss0 = process.memoryUsage.rss()
  console.log(`fuzz: ${FRAMES} cases over ${ALL_TYPES.length} message types (${ALL_TYPES.join(' ')}), seed ${SEED}, ${CONCURRENCY} connections at a time`)
  const runs: Array<[string, FuzzReport]> = []
  for (const side of ['node', 'tracker'] as const) {
    const port = side === 'node' ? targets.node.port : targets.tracker.port
    const r = await fuzz(port, fuzzCases(ALL_TYPES, targets.known, side === 'tracker'), Math.floor(FRAMES / 2), SEED + (side === 'node' ? 0 : 1), CONCURRENCY)
    runs.push([side, r])
    console.log(
      `  ${side.padEnd(8)} ${r.frames} frames on ${r.connections} connections in ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round((r.frames * 1000) / r.elapsedMs)} frames/s); replies ${JSON.stringify(r.replies)}`
    )
    console.log(`           ERRO codes ${JSON.stringify(r.codes)}`)
    for (const f of r.failures.slice(0, 10)) console.log(`  FAILURE ${f.why}\n          ${f.case}`)
  }
  const nodeOk = (await requestText({ host: '127.0.0.1', port: targets.node.port }, 'NAME', '')) === targets.node.id
  const trackerOk = JSON.parse(await requestText({ host: '127.0.0.1', port: targets.tracker.port }, 'TSTA', '{}')).tracker === targets.tracker.id
  const rss1 = process.memoryUsage.rss()
  const failures = runs.reduce((n, [, r]) => n + r.failures.length, 0)
  console.log(`  local bugs ${targets.bugs.length}${targets.bugs.length ? `: ${targets.bugs.slice(0, 5).join(' | ')}` : ''}; failures ${failures}`)
  console.log(`  afterwards: node answers NAME ${nodeOk ? 'yes' : 'NO'}, tracker answers TSTA ${trackerOk ? 'yes' : 'NO'}; RSS of this process (node + tracker + fuzzer) ${mb(rss0)} -> ${mb(rss1)}`)
  await targets.stop()
  return failures || targets.bugs.length || !nodeOk || !trackerOk ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  }
)
