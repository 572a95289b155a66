/**
 * A test network in one process (`p2ptube testnet`, bench/testnet.ts, the overlay tests): N
 * P2PNode instances on 127.0.0.1, started one after the other, each joining one random earlier
 * node and otherwise with default options; some of them share media. One process rather than N:
 * a `p2ptube node` process costs ~64 MB of RSS (almost all of it Node and its modules), so 300
 * processes would need ~19 GB; P2PNode instances share the runtime and cost what their own
 * state costs, which `rssPerNode` reports. The overlay graph (who has whom in its peer table)
 * and a measured search are read from the nodes directly.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DEFAULT_TTL } from '../protocol/constants.ts'
import { P2PNode, type NodeOptions, type SearchResult } from './node.ts'

/** Testnet options. */
export interface TestnetOptions {
  /** Nodes to start (≥ 1). */
  nodes: number
  /** A folder for generated media and downloads (the caller removes it). */
  dir: string
  /** Nodes that share the media (default ⌈N / 10⌉, at least 1), chosen at random. */
  holders?: number
  /** A file or folder the holders share; default a generated 64 KiB file "testnet clip.mp4". */
  share?: string
  /** Seed of the random topology and holder choice (default random). */
  seed?: number
  /** Options for every node on top of the testnet's own (127.0.0.1, no content-id cache). */
  nodeOptions?: NodeOptions
  /** Called with each node once it is built, before it starts and joins (to attach listeners). */
  onNode?(node: P2PNode, index: number): void
}

/** What one measured search found. Times in ms from the search's start. */
export interface SearchMeasure {
  origin: string
  /** Holders that answered (the origin itself excluded). */
  found: number
  /** Holders the query could reach: at most `ttl` hops from the origin along peer tables. */
  withinTtl: number
  /** found ÷ withinTtl (1 when there is no holder within reach). */
  success: number
  /** SRCH frames the flood cost (new + duplicate arrivals over every node). */
  frames: number
  /** Nodes that handled the query (the origin excluded). */
  reached: number
  /** N·(d̄−1)+1 for the reached part: ideal duplicate-suppressed flooding (N = reached + origin). */
  ideal: number
  /** Time to the last answer, ms (null: none). */
  lastAnswerMs: number | null
  results: SearchResult[]
}

/** Deterministic PRNG (mulberry32), so a seed gives the same network. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** N nodes in this process; see the module comment. */
export class Testnet {
  readonly nodes: P2PNode[] = []
  readonly holders = new Set<P2PNode>()
  /** The words that find the shared media ("testnet clip" for the generated file). */
  query = 'testnet clip'
  /** This process's RSS before the first node, bytes. */
  private rssBefore = 0

  private constructor(readonly opts: TestnetOptions) {}

  /**
   * Start the network: node i joins node ⌊random·i⌋ (a normal join: NAME → JOIN → LIST, 2 hops).
   * @throws the first node's start error; a failed join of a later node is kept (it is part of
   *   what the network is), logged through `onNode`'s node.
   */
  static async start(opts: TestnetOptions): Promise<Testnet> {
    const net = new Testnet(opts)
    try {
      await net.launch()
    } catch (err) {
      await net.stop()
      throw err
    }
    return net
  }

  private async launch(): Promise<void> {
    const { opts } = this
    const n = Math.max(1, Math.floor(opts.nodes))
    const rand = prng(opts.seed ?? randomBytes(4).readUInt32BE(0))
    let share = opts.share
    if (!share) {
      // A generated clip: random bytes under a media name (the library indexes by extension).
      share = path.join(opts.dir, 'media', 'testnet clip.mp4')
      await fs.mkdir(path.dirname(share), { recursive: true })
      await fs.writeFile(share, randomBytes(64 * 1024))
    } else this.query = path.basename(share).replace(/\.[^.]*$/, '')
    const holderCount = Math.min(n, Math.max(1, opts.holders ?? Math.ceil(n / 10)))
    const order = Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      ;[order[i], order[j]] = [order[j] as number, order[i] as number]
    }
    const holding = new Set(order.slice(0, holderCount))
    global.gc?.()
    this.rssBefore = process.memoryUsage().rss
    for (let i = 0; i < n; i++) {
      const node = new P2PNode({ host: '127.0.0.1', dataDir: null, downloadsDir: path.join(opts.dir, 'downloads', String(i)), ...(holding.has(i) ? { shares: [share] } : {}), ...opts.nodeOptions })
      this.nodes.push(node)
      opts.onNode?.(node, i)
      await node.start()
      if (holding.has(i)) this.holders.add(node)
      if (i > 0) {
        const to = this.nodes[Math.floor(rand() * i)] as P2PNode
        await node.join(to.id).catch((err: Error) => node.log('warn', `testnet: cannot join ${to.id}: ${err.message}`))
      }
    }
    await Promise.all([...this.holders].map((h) => h.library.whenHashed()))
  }

  /** Resident memory per node, bytes: (RSS now − RSS before the first node) ÷ N (after a GC when --expose-gc). */
  rssPerNode(): number {
    global.gc?.()
    return Math.max(0, process.memoryUsage().rss - this.rssBefore) / Math.max(1, this.nodes.length)
  }

  /** The overlay as directed edges: node id → the ids in its peer table (only this testnet's nodes). */
  graph(): Map<string, string[]> {
    const ids = new Set(this.nodes.map((n) => n.id))
    return new Map(
      this.nodes.map((n) => [
        n.id,
        n.peers
          .list()
          .map((p) => p.id)
          .filter((id) => ids.has(id))
      ])
    )
  }

  /** Connected components of the overlay (edges taken both ways), largest first, as sizes. */
  components(): number[] {
    const g = this.graph()
    const adj = new Map<string, Set<string>>([...g.keys()].map((k) => [k, new Set<string>()]))
    for (const [a, bs] of g) {
      for (const b of bs) {
        adj.get(a)?.add(b)
        adj.get(b)?.add(a)
      }
    }
    const seen = new Set<string>()
    const sizes: number[] = []
    for (const start of adj.keys()) {
      if (seen.has(start)) continue
      let size = 0
      const stack = [start]
      seen.add(start)
      while (stack.length) {
        const v = stack.pop() as string
        size++
        for (const w of adj.get(v) ?? []) {
          if (seen.has(w)) continue
          seen.add(w)
          stack.push(w)
        }
      }
      sizes.push(size)
    }
    return sizes.sort((a, b) => b - a)
  }

  /** Mean number of neighbours (peer-table entries) per node. */
  meanDegree(): number {
    return this.nodes.reduce((s, n) => s + n.peers.size, 0) / Math.max(1, this.nodes.length)
  }

  /** Hops from `origin` to every node it can reach, following peer tables (how a flood travels). */
  distances(origin: P2PNode): Map<string, number> {
    const g = this.graph()
    const dist = new Map([[origin.id, 0]])
    const queue = [origin.id]
    for (let i = 0; i < queue.length; i++) {
      const v = queue[i] as string
      for (const w of g.get(v) ?? []) {
        if (dist.has(w)) continue
        dist.set(w, (dist.get(v) as number) + 1)
        queue.push(w)
      }
    }
    return dist
  }

  /**
   * Search from `origin` for the testnet's media and measure it: holders found against holders
   * within `ttl` hops, SRCH frames, nodes reached, time to the last answer. Runs the search to
   * its timeout, so every frame of the flood is counted.
   */
  async measureSearch(origin: P2PNode, ttl = DEFAULT_TTL, timeoutMs = 3000): Promise<SearchMeasure> {
    const before = this.nodes.map((n) => [n.stats.searchesHandled, n.stats.searchesDuplicate] as const)
    const dist = this.distances(origin)
    const withinTtl = [...this.holders].filter((h) => h !== origin && (dist.get(h.id) ?? Infinity) <= ttl).length
    const t0 = performance.now()
    let last: number | null = null
    const h = origin.search(this.query, { ttl, timeoutMs })
    h.on('result', () => (last = performance.now() - t0))
    const results = await h.finished
    let frames = 0
    let reached = 0
    let degrees = origin.peers.size
    this.nodes.forEach((n, i) => {
      const [handled, dup] = before[i] as readonly [number, number]
      const newly = n.stats.searchesHandled - handled
      frames += newly + n.stats.searchesDuplicate - dup
      if (newly > 0 && n !== origin) {
        reached++
        degrees += n.peers.size
      }
    })
    const holderIds = new Set([...this.holders].map((x) => x.id))
    const found = new Set(results.filter((r) => holderIds.has(r.holder) && r.holder !== origin.id).map((r) => r.holder)).size
    const dBar = degrees / (reached + 1)
    return {
      origin: origin.id,
      found,
      withinTtl,
      success: withinTtl ? found / withinTtl : 1,
      frames,
      reached,
      ideal: (reached + 1) * (dBar - 1) + 1,
      lastAnswerMs: last === null ? null : Math.round(last),
      results
    }
  }

  /** Stop every node (in parallel: each sends QUIT to its peers, bounded to 1 s). Never rejects. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()))
  }
}
