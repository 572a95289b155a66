/**
 * `--http PORT` and `--http-host H` for every command that runs a long-lived node (`node`, the
 * TUI; issue 13 "README and --help agree"): the options, their usage checks and starting the web
 * page (src/web) on a started node, with the URLs and login token to show. Access rules
 * (docs/SECURITY.md "Web page"): loopback by default with no login; another address (0.0.0.0: the
 * LAN) needs the login token; with --group loopback only.
 */
import os from 'node:os'
import type { Argv } from 'yargs'
import type { P2PNode } from '../app/node.ts'
import type { WebServer } from '../web/http-server.ts'
import { isLoopback } from '../net/address.ts'
import { UsageError } from '../protocol/errors.ts'

/** The options {@link webOptions} adds, as a handler reads them. */
export interface WebArgs {
  /** TCP port of the web page (0 = any free one); undefined: no web page. */
  http?: number | undefined
  /** Address to bind (default 127.0.0.1). */
  'http-host': string
  /** The --group credential file, when any (the page is then loopback only). */
  group?: string | undefined
}

/** Add --http and --http-host to a command's options. */
export function webOptions<T>(y: Argv<T>) {
  return y.option('http', { type: 'number', describe: 'serve a web page (library, search, play in the browser) on this TCP port' }).option('http-host', {
    type: 'string',
    default: '127.0.0.1',
    describe: 'address for --http: 127.0.0.1 = this machine only; 0.0.0.0 = the whole LAN, with a login (the token is printed); with --group loopback only'
  })
}

/**
 * Check --http and --http-host before the node starts.
 * @throws UsageError for a port outside 0..65535 or a non-loopback --http-host with --group.
 */
export function checkWebArgs(a: WebArgs): void {
  if (a.http !== undefined && (!Number.isInteger(a.http) || a.http < 0 || a.http > 65535)) throw new UsageError(`--http must be a port 0..65535, got ${a.http}`)
  if (a.http !== undefined && a.group && !isLoopback(a['http-host']))
    throw new UsageError(`with --group the web page is served on this machine only: --http-host must be a loopback address, not ${a['http-host']} (docs/SECURITY.md "Web page")`)
}

/** A started web page: the server (stop() it before the node), and what to tell the user. */
export interface StartedWeb {
  server: WebServer
  /** The address bound and the port listened on (the real one for --http 0). */
  host: string
  port: number
  /** URLs a browser opens: each with `login?token=…` when a login is needed. */
  urls: string[]
  /** The login token; undefined for a loopback page without a group (no login). */
  token: string | undefined
  /** Lines for the user: the URLs, then the token when there is a login. */
  lines: string[]
}

/**
 * Start the web page on a started node when --http was given (the web module is loaded only
 * then). The node is not stopped on failure: the caller owns it.
 * @returns null without --http.
 * @throws Error "cannot serve the web page on H:P: …" (EADDRINUSE, EACCES…, or the server's
 *   UsageError for a non-loopback host with a private group).
 */
export async function startWeb(node: P2PNode, a: WebArgs): Promise<StartedWeb | null> {
  if (a.http === undefined) return null
  const { WebServer } = await import('../web/http-server.ts')
  const server = new WebServer(node)
  try {
    await server.start(a.http, a['http-host'])
  } catch (err) {
    throw new Error(`cannot serve the web page on ${a['http-host']}:${a.http}: ${(err as Error).message}`, { cause: err })
  }
  const token = server.token
  const urls = webUrls(a['http-host'], server.port).map((u) => (token === undefined ? u : `${u}login?token=${token}`))
  const lines = [`web page at ${urls.join('  ')}`]
  if (token !== undefined) lines.push(`web login token (keep it private; a login lasts 12 h): ${token}`)
  return { server, host: a['http-host'], port: server.port, urls, token, lines }
}

/** URLs a browser can use: each IPv4 address of this machine for a wildcard host. */
export function webUrls(host: string, port: number): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [`http://${host.includes(':') ? `[${host}]` : host}:${port}/`]
  const addrs = Object.values(os.networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4')
    .map((i) => i!.address)
  return (addrs.length ? addrs : ['127.0.0.1']).map((h) => `http://${h}:${port}/`)
}
