#!/usr/bin/env node
// Entry point: runs the bundled CLI (dist/bundle/p2ptube.js, esbuild: scripts/bundle.ts) when it
// is there and not older than the compiled one, else the compiled CLI in dist/ (both built by
// `npm run build`, which scripts/setup.sh and `npm test` run; the npm package ships dist/). No
// TypeScript loader at run time: tsx is a development dependency. To run the sources instead
// (the tests do when dist/ is older than src/): P2PTUBE_FROM_SOURCE=1 node --import=tsx bin/p2ptube.js ...
import { statSync } from 'node:fs'

const fromSource = !!process.env.P2PTUBE_FROM_SOURCE
const compiled = new URL('../dist/cli/main.js', import.meta.url)
const bundled = new URL('../dist/bundle/p2ptube.js', import.meta.url)
const mtime = (u) => statSync(u, { throwIfNoEntry: false })?.mtimeMs
const entry = fromSource ? new URL('../src/cli/main.ts', import.meta.url) : mtime(bundled) >= (mtime(compiled) ?? 0) ? bundled : compiled
if (!fromSource && mtime(entry) === undefined) {
  process.stderr.write('p2ptube: dist/ is missing: run `npm run build` first (scripts/setup.sh does)\n')
  process.exit(1)
}
const { main } = await import(entry.href)
await main(process.argv.slice(2))
