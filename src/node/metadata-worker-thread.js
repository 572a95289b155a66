// The metadata worker's thread (metadata-worker.ts starts it): reads the tags of one file at a
// time with metadata.ts (music-metadata in this thread, ffprobe as its child) and posts back the
// cleaned result, so tag parsing never runs on the node's event loop. Plain JavaScript so the
// thread starts without a TypeScript loader from dist/ (the build copies it: allowJs in
// tsconfig.build.json); run from src/ (tests, tsx) it loads metadata.ts through tsx's API, since
// a worker thread does not inherit the parent's --import=tsx hooks on Node 20.
// workerData: { reader: URL of metadata.ts or metadata.js }.
// Messages in: { id, file, kind, size, opts: MetadataReaderOptions }; replies: { id, meta, cover, warnings }.
import { parentPort, workerData } from 'node:worker_threads'

const reader = workerData.reader.endsWith('.ts') ? (await import('tsx/esm/api')).tsImport(workerData.reader, import.meta.url) : import(workerData.reader)
const { readMetadata } = await reader

// One file at a time: the next read starts when the previous one is done.
let chain = Promise.resolve()
parentPort.on('message', (m) => {
  chain = chain.then(async () => {
    try {
      const r = await readMetadata(m.file, m.kind, m.size, m.opts)
      parentPort.postMessage({ id: m.id, meta: r.meta, cover: r.cover, warnings: r.warnings })
    } catch (err) {
      parentPort.postMessage({ id: m.id, meta: undefined, cover: false, warnings: [`tags: ${err && err.message}`] })
    }
  })
})
