#!/usr/bin/env node
// Entry point: runs the compiled CLI in dist/ (built by `npm run build`, which scripts/setup.sh
// and `npm test` run; the npm package ships dist/). No TypeScript loader at run time: tsx is a
// development dependency. To run the sources instead (the tests do when dist/ is older than
// src/): P2PTUBE_FROM_SOURCE=1 node --import=tsx bin/p2ptube.js ...
import { existsSync } from 'node:fs'

const fromSource = !!process.env.P2PTUBE_FROM_SOURCE
const entry = new URL(fromSource ? '../src/cli/main.ts' : '../dist/cli/main.js', import.meta.url)
if (!fromSource && !existsSync(entry)) {
  process.stderr.write('p2ptube: dist/ is missing: run `npm run build` first (scripts/setup.sh does)\n')
  process.exit(1)
}
const { main } = await import(entry.href)
await main(process.argv.slice(2))
