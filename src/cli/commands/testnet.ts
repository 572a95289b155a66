/**
 * `p2ptube testnet --nodes N`: N scripted nodes in this process on 127.0.0.1 (src/app/testnet.ts),
 * each joining one random earlier node and otherwise with default options; ⌈N/10⌉ of them share
 * a clip (generated, or --share). Prints every node's id, then the overlay's shape and the RSS per
 * node, and runs until Ctrl-C or SIGTERM, which stop every node cleanly (QUIT to their peers).
 * One process rather than N: a node process costs ~64 MB, a P2PNode instance a fraction of one.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { UsageError } from '../../protocol/errors.ts'
import { Testnet } from '../../app/testnet.ts'
import { onShutdown } from '../common.ts'
import { formatBytes } from '../../text/format.ts'
import { EXIT, Output } from '../output.ts'

export const command = 'testnet'
export const describe = 'start N nodes in this process with a random topology (each joins one random earlier node), some sharing media; Ctrl-C stops them'

export function builder(y: Argv) {
  return y
    .option('nodes', { type: 'number', default: 10, describe: 'how many nodes (1-1000)' })
    .option('holders', { type: 'number', describe: 'how many nodes share the media (default: one in ten)' })
    .option('share', { type: 'string', describe: 'file or folder the holders share (default: a generated 64 KiB "testnet clip.mp4")' })
    .option('seed', { type: 'number', describe: 'seed of the random topology (default random)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' })
    .option('verbose', { type: 'boolean', default: false, describe: "also print the nodes' logs" })
    .example('$0 testnet --nodes 30', 'then: p2ptube search testnet clip --peer <any id printed>')
}

/** Options the handler reads. */
export type TestnetArgs = { nodes: number; holders?: number; share?: string; seed?: number; json: boolean; verbose: boolean }

/** Runs until Ctrl-C or SIGTERM. */
export async function handler(a: TestnetArgs): Promise<number> {
  const out = new Output(a.json)
  if (!Number.isInteger(a.nodes) || a.nodes < 1 || a.nodes > 1000) throw new UsageError(`--nodes must be 1..1000, got ${a.nodes}`)
  if (a.holders !== undefined && (!Number.isInteger(a.holders) || a.holders < 1)) throw new UsageError(`--holders must be 1 or more, got ${a.holders}`)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-testnet-'))
  let net: Testnet | null = null
  let stopped = false
  const stop = async (): Promise<void> => {
    stopped = true
    await net?.stop()
    await fs.rm(dir, { recursive: true, force: true })
    out.event('stopped', {})
  }
  const removeSignals = onShutdown(stop)
  try {
    net = await Testnet.start({
      nodes: a.nodes,
      dir,
      ...(a.holders !== undefined ? { holders: a.holders } : {}),
      ...(a.share ? { share: path.resolve(a.share) } : {}),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      onNode(node, index) {
        if (a.verbose) node.on('log', (l: { level: string; msg: string }) => out.info(`[${index}] ${l.msg}`, l.level))
      }
    })
  } catch (err) {
    removeSignals()
    await stop()
    throw err
  }
  if (stopped) return EXIT.INTERRUPTED
  net.nodes.forEach((node, index) => {
    const holder = net!.holders.has(node)
    out.event('node', { index, id: node.id, holder, peers: node.peers.size })
    out.line(`${String(index).padStart(4)}  ${out.color.bold(node.id)}  ${node.peers.size} neighbours${holder ? '  shares the media' : ''}`)
  })
  const components = net.components()
  const rssBytes = process.memoryUsage().rss
  const rssPerNode = Math.round(net.rssPerNode())
  out.event('ready', { nodes: net.nodes.length, components: components.length, largest: components[0], meanDegree: net.meanDegree(), query: net.query, rssBytes, rssPerNode })
  out.line(
    `${out.color.green('testnet ready')}: ${net.nodes.length} nodes, ${components.length} component(s), ${net.meanDegree().toFixed(1)} neighbours each on average; ` +
      `RSS ${formatBytes(rssBytes)} (${formatBytes(rssPerNode)} per node); search "${net.query}" from any node. Ctrl-C stops them all.`
  )
  // Until Ctrl-C or SIGTERM: the signal handler stops every node and exits (130 / 0).
  return new Promise<number>(() => {})
}

/** The command for main.ts. */
export const module: CommandModule<TestnetArgs> = { command, describe, builder, handler }
