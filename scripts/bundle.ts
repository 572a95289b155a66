/**
 * `npm run build`'s second step: bundle the CLI with esbuild into dist/bundle/ (ESM, code
 * splitting), so `p2ptube` starts from a few files instead of ~250 modules. Each command, the
 * TUI (blessed), the web page and the group transport are chunks loaded only when used.
 *
 * - Runs after `tsc -p tsconfig.build.json`: dist/ stays the fallback (bin/p2ptube.js runs the
 *   bundle when it is there and not older than dist/cli/main.js) and holds the worker-thread
 *   files (dist/node/hash-worker-thread.js, metadata-worker-thread.js, metadata.js), which a
 *   Worker loads by URL and which therefore are not bundled.
 * - `import.meta.url` in a bundled source file is rewritten to the URL its compiled twin has in
 *   dist/ (src/node/hash-worker.ts -> dist/node/hash-worker.js), so every
 *   `new URL('./x', import.meta.url)` (worker threads, package.json, bin/) resolves as in dist/.
 * - External (loaded from node_modules when used): blessed (it requires its widgets and terminfo
 *   files by computed paths) and @achingbrain/nat-port-mapper (its ssdp reads ../../package.json
 *   by URL; loaded only for port mapping). Everything else from node_modules is bundled; yargs
 *   then finds no locale files and speaks English, and main.ts gives it the version.
 * - CommonJS packages in an ESM bundle call require(): the banner defines one per chunk.
 * esbuild ships its binary as the npm optionalDependency @esbuild/linux-x64; the package's
 * postinstall only checks that binary, so this works with install scripts off (npm 11's default).
 */
import * as esbuild from 'esbuild'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = path.join(ROOT, 'src')
const DIST = path.join(ROOT, 'dist')
/** Output folder; the entry is p2ptube.js (bin/p2ptube.js knows this path). */
export const BUNDLE_DIR = path.join(DIST, 'bundle')

/** Rewrites `import.meta.url` in src/ files to their dist/ twin's URL, relative to the chunk that holds them. */
const metaUrlPlugin: esbuild.Plugin = {
  name: 'dist-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(SRC + path.sep)) return undefined
      const text = await readFile(args.path, 'utf8')
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' }
      const twin = path.join(DIST, path.relative(SRC, args.path)).replace(/\.ts$/, '.js')
      // Chunks all sit in BUNDLE_DIR, so the twin's path relative to it holds for any chunk.
      const rel = path.relative(BUNDLE_DIR, twin).split(path.sep).join('/')
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: 'ts' }
    })
  }
}

/** Build the bundle. @returns output files and their sizes in bytes. */
export async function bundle(): Promise<Record<string, number>> {
  const r = await esbuild.build({
    entryPoints: { p2ptube: path.join(SRC, 'cli/main.ts') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    splitting: true,
    outdir: BUNDLE_DIR,
    chunkNames: '[name]-[hash]',
    metafile: true,
    sourcemap: 'linked',
    external: ['blessed', '@achingbrain/nat-port-mapper', 'tsx', 'tsx/*'],
    banner: { js: "import { createRequire as __p2ptubeRequire } from 'node:module'; const require = __p2ptubeRequire(import.meta.url);" },
    plugins: [metaUrlPlugin],
    logLevel: 'warning'
  })
  return Object.fromEntries(Object.entries(r.metafile.outputs).map(([f, o]) => [f, o.bytes]))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await bundle()
  const js = Object.entries(out).filter(([f]) => f.endsWith('.js'))
  const total = js.reduce((s, [, b]) => s + b, 0)
  process.stdout.write(`bundle: ${js.length} files, ${(total / 1024).toFixed(0)} KiB in ${path.relative(ROOT, BUNDLE_DIR)}/\n`)
}
