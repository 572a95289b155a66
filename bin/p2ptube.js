#!/usr/bin/env node
// Entry point. Runs the compiled CLI (dist/, built by `npm run build`, which `npm test` and
// scripts/setup.sh run) so a node needs no TypeScript loader in memory (~55 MB less RSS);
// falls back to loading the TypeScript sources through tsx when there is no build.
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/cli/main.js', import.meta.url)
if (existsSync(compiled) && !process.env.P2PTUBE_FROM_SOURCE) {
  await import(compiled.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
