/**
 * Library bench (issue 12): a library of 10,000 tagged Ogg files (100 ffmpeg-tagged 1-s cuts of
 * the Debian drascula music, each copied 100 times with 4 trailing bytes so every file has its own
 * content id; music-metadata reads the tags through the trailing bytes), indexed
 *   - cold: a fresh process, no cache: walk, hash, read every file's tags;
 *   - warm: a fresh process on the caches the cold run left, started as a node starts
 *     (addShare in the background): "ready for search" = every file the cache knows is indexed
 *     with its content id and its metadata (from the one read of each cache file, no stat);
 *     "re-validated" = the walk behind it has compared every file with its stat; twice, to
 *     show memory stays flat;
 * each reporting wall time, tag reads and the process's heap and RSS. Then tag search latency
 * over a 20-node network (in-process nodes on 127.0.0.1, each sharing 500 of the files, warm;
 * each node joins the one before it and one random earlier node): `artist:<artist>` searches
 * from node 0 for an artist only the last nodes hold, time to the first result and to the
 * complete answer (every holder), p50/p90. Then the same nodes announce their tags to an
 * in-process tracker and node 0 searches through it (trackerBench).
 * Goal: warm ready for search < 2 s, flat memory.
 *
 * Usage: node --import=tsx bench/library.ts [--files 10000] [--nodes 20] [--queries 20] [--json]
 */
import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { P2PNode } from '../src/app/node.ts'
import { Library } from '../src/node/library.ts'
import { createTracker } from '../src/tracker/create.ts'
import { arg } from './args.ts'

const run = promisify(execFile)
const FILES = arg('files', 10_000)
const NODES = arg('nodes', 20)
const QUERIES = arg('queries', 20)
const JSON_OUT = process.argv.includes('--json')
const BASES = 100
const SELF = fileURLToPath(import.meta.url)

/** Child phase: index `share` with the caches in `state`; print one JSON line. */
async function indexPhase(share: string, state: string): Promise<void> {
  const t0 = performance.now()
  const lib = new Library({ cacheFile: path.join(state, 'content-ids.json'), metadata: { ffprobe: null } })
  // As a node starts (app/node.ts): the cached files are served at once, the walk re-validates them behind.
  await lib.addShare(share, { background: true })
  let entries = lib.entries()
  // Ready for search: every file found so far has its content id and its tags (cold: after hashing and reading them).
  if (entries.length < FILES || entries.some((e) => !e.cid)) await lib.whenHashed()
  await lib.metadata!.idle()
  const ms = performance.now() - t0
  globalThis.gc?.()
  const mem = process.memoryUsage()
  await lib.whenHashed()
  await lib.metadata!.idle()
  const revalidatedMs = performance.now() - t0
  entries = lib.entries()
  const withMeta = entries.filter((e) => e.meta?.artist).length
  await lib.stop()
  process.stdout.write(
    JSON.stringify({
      ms: Math.round(ms),
      revalidatedMs: Math.round(revalidatedMs),
      files: entries.length,
      withMeta,
      tagReads: lib.metadata!.readCount,
      heapMB: +(mem.heapUsed / 2 ** 20).toFixed(1),
      rssMB: +(mem.rss / 2 ** 20).toFixed(1)
    }) + '\n'
  )
}

async function makeLibrary(dir: string): Promise<void> {
  const base = path.join(dir, 'bases')
  await fs.mkdir(base, { recursive: true })
  const src = '/usr/share/scummvm/drascula/audio/track12.ogg'
  for (let b = 0; b < BASES; b++) {
    const tags = ['-metadata', `artist=Artist ${b}`, '-metadata', `album=Album ${b}`, '-metadata', `title=Song ${b}`, '-metadata', `genre=Genre ${b % 10}`, '-metadata', `date=${1950 + b}`]
    await run('ffmpeg', ['-v', 'error', '-y', '-i', src, '-t', '1', '-map_metadata', '-1', '-c', 'copy', ...tags, path.join(base, `${b}.ogg`)])
  }
  const bytes = await Promise.all(Array.from({ length: BASES }, (_, b) => fs.readFile(path.join(base, `${b}.ogg`))))
  // node k of NODES shares folder n<k>; base b goes to folders in order, so an artist is held by few nodes.
  const perNode = Math.ceil(FILES / NODES)
  const made = new Set<string>()
  for (let i = 0; i < FILES; i++) {
    const b = Math.floor((i / FILES) * BASES)
    const folder = path.join(dir, 'share', `n${Math.floor(i / perNode)}`, `Artist ${b}`)
    if (!made.has(folder)) await fs.mkdir(folder, { recursive: true })
    made.add(folder)
    const tail = Buffer.alloc(4)
    tail.writeUInt32BE(i)
    await fs.writeFile(path.join(folder, `track ${i}.ogg`), Buffer.concat([bytes[b]!, tail]))
  }
}

function child(share: string, state: string): Record<string, number> {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import=tsx', SELF, '--phase-index', share, state, '--files', String(FILES)], { encoding: 'utf8', maxBuffer: 1 << 20 })
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return +(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN).toFixed(1)
}

async function searchBench(dir: string, state: string): Promise<Record<string, number>> {
  const nodes: P2PNode[] = []
  try {
    for (let k = 0; k < NODES; k++) {
      const n = new P2PNode({
        host: '127.0.0.1',
        dataDir: state,
        stabilizeIntervalMs: 0,
        maxPeers: 0,
        shares: [path.join(dir, 'share', `n${k}`)],
        metadata: { ffprobe: null },
        downloadsDir: path.join(dir, 'dl')
      })
      await n.start()
      await n.library.whenHashed()
      await n.library.metadata!.idle()
      if (k > 0) {
        await n.join(nodes[k - 1]!.id, 1)
        if (k > 1) await n.join(nodes[Math.floor(Math.random() * (k - 1))]!.id, 1)
      }
      nodes.push(n)
    }
    const first: number[] = []
    const complete: number[] = []
    for (let q = 0; q < QUERIES; q++) {
      // An artist from the last quarter of the library: held by nodes far from node 0.
      const b = BASES - 1 - (q % Math.floor(BASES / 4))
      const expected = nodes.reduce((s, n) => s + Math.min(100, n.library.entries().filter((e) => e.meta?.artist === `Artist ${b}`).length), 0)
      if (!expected) throw new Error(`no node holds Artist ${b}`)
      const t0 = performance.now()
      const h = nodes[0]!.search(`artist:"artist ${b}"`, { ttl: 7, timeoutMs: 5000 })
      let got = 0
      await new Promise<void>((resolve) => {
        h.on('result', () => {
          if (++got === 1) first.push(performance.now() - t0)
          if (got === expected) {
            complete.push(performance.now() - t0)
            resolve()
          }
        })
        void h.finished.then(() => resolve())
      })
    }
    const degree = +(nodes.reduce((s, n) => s + n.peers.size, 0) / nodes.length).toFixed(1)
    const flood = {
      nodes: NODES,
      degree,
      queries: QUERIES,
      firstP50: pct(first, 50),
      firstP90: pct(first, 90),
      completeP50: pct(complete, 50),
      completeP90: pct(complete, 90),
      completed: complete.length
    }
    return { ...flood, ...(await trackerBench(nodes)) }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

/**
 * Tag search through the tracker (TFND, PROTOCOL.md §7.7): the same nodes announce their
 * libraries with tags to an in-process tracker; node 0 asks it `artist:"artist N"` (its tracker
 * client: one request, results with tags) and `genre:"genre N" year>2000` (a filter matching
 * about 500 files: ranking and the 100-result cap); latency p50/p90 and the work units the
 * tracker spent.
 */
async function trackerBench(nodes: P2PNode[]): Promise<Record<string, number>> {
  const tr = createTracker({ dataDir: null, announceIntervalMs: 60_000, searchRefillPerS: 0 })
  await tr.start()
  try {
    const address = `127.0.0.1:${tr.port}`
    const t0 = performance.now()
    for (const n of nodes) n.discovery.useTracker(address)
    const withTags = nodes.reduce((s, n) => s + n.library.entries().filter((e) => e.cid && e.meta).length, 0)
    while (tr.index.heldNames < withTags || tr.index.search('artist', 1).length === 0) await new Promise((r) => setTimeout(r, 50))
    const indexedMs = performance.now() - t0
    const artist: number[] = []
    const genre: number[] = []
    let work = 0
    let artistHits = 0
    for (let q = 0; q < QUERIES; q++) {
      const b = BASES - 1 - (q % Math.floor(BASES / 4))
      let t = performance.now()
      const rs = await nodes[0]!.tracker!.search(`artist:"artist ${b}"`)
      artist.push(performance.now() - t)
      if (!rs.every((r) => r.meta?.artist === `Artist ${b}`)) throw new Error(`tracker: a result for Artist ${b} without its tags`)
      artistHits += rs.length
      work = Math.max(work, tr.index.query(`artist:"artist ${b}"`, 100).work)
      t = performance.now()
      await nodes[0]!.tracker!.search(`genre:"genre ${q % 10}" year>2000`)
      genre.push(performance.now() - t)
    }
    return {
      trackerTitles: tr.index.names,
      trackerIndexedMs: Math.round(indexedMs),
      trackerArtistP50: pct(artist, 50),
      trackerArtistP90: pct(artist, 90),
      trackerArtistHits: +(artistHits / QUERIES).toFixed(1),
      trackerGenreP50: pct(genre, 50),
      trackerGenreP90: pct(genre, 90),
      trackerMaxWork: work
    }
  } finally {
    await tr.stop()
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--phase-index')
  if (i > 0) return indexPhase(process.argv[i + 1]!, process.argv[i + 2]!)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-bench-library-'))
  try {
    const t0 = performance.now()
    await makeLibrary(dir)
    const made = Math.round(performance.now() - t0)
    const state = path.join(dir, 'state')
    const share = path.join(dir, 'share')
    const cold = child(share, state)
    const warm1 = child(share, state)
    const warm2 = child(share, state)
    const search = await searchBench(dir, state)
    const result = { date: new Date().toISOString(), files: FILES, madeMs: made, cold, warm1, warm2, search }
    if (JSON_OUT) console.log(JSON.stringify(result))
    else {
      console.log(`library bench: ${FILES} tagged Ogg files (made in ${made} ms)`)
      for (const [k, v] of Object.entries({ cold, warm1, warm2 }))
        console.log(
          `  ${k.padEnd(6)} ready for search in ${v.ms} ms (walk re-validated at ${v.revalidatedMs} ms), ${v.files} files, ${v.withMeta} with tags, ${v.tagReads} tag reads, heap ${v.heapMB} MB, RSS ${v.rssMB} MB`
        )
      console.log(
        `  search over ${search.nodes} nodes (mean degree ${search.degree}, ${search.queries} artist: queries from node 0, ttl 7): first result p50 ${search.firstP50} ms p90 ${search.firstP90} ms; complete answer p50 ${search.completeP50} ms p90 ${search.completeP90} ms (${search.completed}/${search.queries} complete)`
      )
      console.log(
        `  through the tracker (${search.trackerTitles} titles with tags, announced in ${search.trackerIndexedMs} ms): artist: p50 ${search.trackerArtistP50} ms p90 ${search.trackerArtistP90} ms (${search.trackerArtistHits} hits each, at most ${search.trackerMaxWork} work units of 100000); genre:+year> p50 ${search.trackerGenreP50} ms p90 ${search.trackerGenreP90} ms`
      )
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

await main()
