/**
 * Web test helpers: a WebServer on 127.0.0.1 over a started node, raw HTTP requests (paths sent
 * byte for byte, no URL normalisation) and NDJSON search.
 */
import type { ExecutionContext } from 'ava'
import http from 'node:http'
import type { P2PNode } from '../../src/app/node.ts'
import { WebServer, type WebServerOptions } from '../../src/web/http-server.ts'
import { existsSync } from 'node:fs'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { tempDir } from '../helpers/nodes.ts'

/** Start a WebServer for `node` on `host` (127.0.0.1), a free port, stopped after the test. */
export async function startWeb(t: ExecutionContext, node: P2PNode, opts: WebServerOptions = {}, host = '127.0.0.1'): Promise<WebServer> {
  const web = new WebServer(node, opts)
  await web.start(0, host)
  t.teardown(() => web.stop())
  return web
}

/** A whole HTTP response. */
export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** One request with `path` sent exactly as given (so `..` and `%2f` reach the server). */
export function raw(web: WebServer, path: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: web.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** Lines of an NDJSON search. */
export type SearchLine = { type: 'result'; name: string; size: number | null; kind: string | null; contentId: string | null; holder: string; url: string | null } | { type: 'done'; results: number }

/** GET /api/search and parse every line. */
export async function webSearch(web: WebServer, q: string, timeoutS = 1): Promise<SearchLine[]> {
  const r = await raw(web, `/api/search?q=${encodeURIComponent(q)}&timeout=${timeoutS}`)
  if (r.status !== 200) throw new Error(`search: ${r.status} ${r.body.toString()}`)
  return r.body
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SearchLine)
}

const CHROMIUM = '/usr/bin/chromium'

/** A fresh headless Chromium with its own temp profile, closed after the test. */
export async function browser(t: ExecutionContext, viewport?: { width: number; height: number }): Promise<{ ctx: BrowserContext; page: Page; dialogs: string[]; errors: string[] }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (Debian packages chromium, chromium-driver)`)
  const ctx = await chromium.launchPersistentContext(await tempDir(t, 'p2ptube-chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    ...(viewport ? { viewport } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'
    ]
  })
  t.teardown(() => ctx.close())
  const page = ctx.pages()[0] ?? (await ctx.newPage())
  const dialogs: string[] = []
  const errors: string[] = []
  page.on('dialog', (d) => {
    dialogs.push(d.message())
    void d.dismiss()
  })
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
  return { ctx, page, dialogs, errors }
}
