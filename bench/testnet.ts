/**
 * Overlay bench (issue 15): 30 / 100 / 300 nodes with default options in one process
 * (src/app/testnet.ts: node i joins one random earlier node; ⌈N/10⌉ nodes share a clip), then
 * searches from random nodes. Prints per size:
 *   - connected components of the overlay (peer tables taken both ways), isolated nodes;
 *   - neighbours per node (mean, max);
 *   - search success = holders found ÷ holders within TTL hops (goal ≥ 99 % at every size);
 *   - SRCH frames per search against N·(d̄−1)+1 of the part reached (goal ≤ 1.0×);
 *   - time to the last answer; RSS per node (process RSS growth ÷ N);
 *   - time to start and join all nodes.
 *
 * Usage: node --import=tsx bench/testnet.ts [--sizes 30,100,300] [--searches 5] [--ttl 4]
 *   [--seed 1] [--json]
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { prng, Testnet, type SearchMeasure } from '../src/app/testnet.ts'

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const SIZES = (argOf('sizes') ?? '30,100,300').split(',').map(Number)
const SEARCHES = Number(argOf('searches') ?? 5)
const TTL = Number(argOf('ttl') ?? 4)
const SEED = Number(argOf('seed') ?? 1)
const JSON_OUT = process.argv.includes('--json')

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : NaN
}
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`

async function runSize(n: number): Promise<Record<string, unknown>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-testnet-bench-'))
  const t0 = performance.now()
  const net = await Testnet.start({ nodes: n, dir, seed: SEED + n })
  const startMs = performance.now() - t0
  try {
    const comps = net.components()
    const rss = net.rssPerNode()
    const degrees = net.nodes.map((x) => x.peers.size)
    const rand = prng(SEED * 7 + n)
    const ms: SearchMeasure[] = []
    for (let i = 0; i < SEARCHES; i++) {
      const origin = net.nodes[Math.floor(rand() * n)]!
      ms.push(await net.measureSearch(origin, TTL))
    }
    const found = ms.reduce((s, m) => s + m.found, 0)
    const within = ms.reduce((s, m) => s + m.withinTtl, 0)
    const row = {
      nodes: n,
      components: comps.length,
      largest: comps[0],
      isolated: comps.filter((c) => c === 1).length,
      meanDegree: Number(net.meanDegree().toFixed(2)),
      maxDegree: Math.max(...degrees),
      holders: net.holders.size,
      searches: ms.length,
      found,
      withinTtl: within,
      success: within ? found / within : 1,
      minSuccess: Math.min(...ms.map((m) => m.success)),
      reachedMedian: median(ms.map((m) => m.reached)),
      framesMedian: median(ms.map((m) => m.frames)),
      framesPerIdeal: median(ms.map((m) => m.frames / m.ideal)),
      lastAnswerMsMedian: median(ms.filter((m) => m.lastAnswerMs !== null).map((m) => m.lastAnswerMs as number)),
      lastAnswerMsMax: Math.max(...ms.map((m) => m.lastAnswerMs ?? 0)),
      rssPerNodeMB: Number((rss / 1e6).toFixed(2)),
      startMs: Math.round(startMs)
    }
    if (JSON_OUT) console.log(JSON.stringify(row))
    else {
      console.log(`\n${n} nodes (default options, ${net.holders.size} holders, TTL ${TTL}, ${ms.length} searches):`)
      console.log(`  components ${row.components} (largest ${row.largest}, isolated ${row.isolated}); neighbours mean ${row.meanDegree}, max ${row.maxDegree}`)
      console.log(`  search success ${found}/${within} = ${pct(row.success)} (worst search ${pct(row.minSuccess)}); nodes reached (median) ${row.reachedMedian}`)
      console.log(`  SRCH frames per search (median) ${row.framesMedian} = ${row.framesPerIdeal.toFixed(3)} x N(d-1)+1`)
      console.log(`  last answer after ${row.lastAnswerMsMedian} ms (median), ${row.lastAnswerMsMax} ms (max)`)
      console.log(`  RSS per node ${row.rssPerNodeMB} MB (one process); start + join of all nodes ${(startMs / 1000).toFixed(1)} s`)
    }
    return row
  } finally {
    await net.stop()
    await fs.rm(dir, { recursive: true, force: true })
  }
}

console.log(JSON_OUT ? '' : `bench/testnet.ts: ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`)
for (const n of SIZES) await runSize(n)
