/**
 * Who may use the web server (docs/SECURITY.md "Web page"):
 * - every request: the Host header must name this machine (an IP literal, `localhost`, the host
 *   name or `<hostname>.local`), so a DNS-rebinding page (evil.example resolving to 127.0.0.1 or a
 *   LAN address) is refused; a browser request made by another site (Sec-Fetch-Site
 *   cross-site/same-site, or an Origin that is not this server's) is refused too (CSRF: a foreign
 *   page must not start searches or downloads);
 * - when a token is set (any non-loopback bind, and always with a private group), a request must
 *   carry a session cookie obtained at `/login?token=TOKEN` (compared in constant time; failed
 *   logins are rate-limited per client address). The token is random (32 bytes, base64url), made
 *   per run and shown only in the `node` output of the member running the node.
 * The checks are pure functions of the request so the server, the tests and the docs share them.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import type http from 'node:http'
import { isIP } from 'node:net'
import os from 'node:os'
import { TokenBuckets } from '../net/token-bucket.ts'

/** Name of the session cookie. */
export const SESSION_COOKIE = 'p2ptube_web'

/** A session lives this long after login, ms (12 h). */
export const SESSION_TTL_MS = 12 * 3600 * 1000

/** Sessions kept at most; the oldest is forgotten first. */
export const MAX_SESSIONS = 1000

/** Options of WebAccess. */
export interface WebAccessOptions {
  /** Login token; undefined = no login (loopback without a group). */
  token?: string | undefined
  /** Extra host names accepted in the Host header (lower case), besides IP literals and localhost. */
  hosts?: string[]
  /** Clock, epoch ms (tests). */
  now?: () => number
}

/** Why a request was refused: HTTP status and a short text for the client. */
export interface Refusal {
  status: 400 | 401 | 403 | 429
  message: string
}

/** A fresh login token: 32 random bytes, base64url (43 characters). */
export function newWebToken(): string {
  return randomBytes(32).toString('base64url')
}

/** The host part of a Host header ("[::1]:80" → "::1", "Name:8080" → "name"); null when malformed. */
export function hostOf(header: string | undefined): string | null {
  if (!header) return null
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(header.trim())
  if (!m) return null
  return (m[1] ?? m[2] ?? '').toLowerCase()
}

/** Cookie header → value of `name` (undefined when absent). */
function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/** Host/Origin checks and token login for one web server. */
export class WebAccess {
  readonly token: string | undefined
  private readonly hosts: Set<string>
  private readonly sessions = new Map<string, number>()
  private readonly failures = new TokenBuckets(5, 0.5)
  private readonly now: () => number

  constructor(opts: WebAccessOptions = {}) {
    this.token = opts.token
    const name = os.hostname().toLowerCase()
    this.hosts = new Set(['localhost', name, `${name}.local`, ...(opts.hosts ?? [])])
    this.now = opts.now ?? Date.now
  }

  /** Is a login needed? */
  get locked(): boolean {
    return this.token !== undefined
  }

  /**
   * Check the Host, Sec-Fetch-Site and Origin headers (every route, login included).
   * @returns null when allowed, else the refusal.
   */
  checkOrigin(req: http.IncomingMessage): Refusal | null {
    const host = hostOf(req.headers.host)
    if (host === null) return { status: 400, message: 'missing or bad Host header' }
    if (!isIP(host) && !this.hosts.has(host)) return { status: 403, message: `unknown host name ${host.slice(0, 100)}: use this machine's address (DNS rebinding is refused)` }
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return { status: 403, message: 'requests from other sites are refused' }
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${req.headers.host}`) return { status: 403, message: 'requests from other origins are refused' }
    return null
  }

  /** Does the request carry a live session (or is no login needed)? */
  authorized(req: http.IncomingMessage): boolean {
    if (!this.locked) return true
    const s = cookie(req.headers.cookie, SESSION_COOKIE)
    if (!s) return false
    const until = this.sessions.get(s)
    if (until === undefined) return false
    if (until < this.now()) {
      this.sessions.delete(s)
      return false
    }
    return true
  }

  /**
   * A login attempt with `token` from client `addr`.
   * @returns the Set-Cookie value of a new session, or the refusal (401 wrong token, 429 after
   *   5 failures in a row from the address, then one try per 2 s).
   */
  login(token: string, addr: string): { cookie: string } | Refusal {
    if (!this.token) return { cookie: '' }
    const now = this.now()
    if (this.failures.waitMs(addr, now) > 0) return { status: 429, message: 'too many failed logins; wait a few seconds' }
    // Equal-length digests: timingSafeEqual needs equal lengths, and the token length stays hidden.
    if (!timingSafeEqual(digest(token), digest(this.token))) {
      this.failures.take(addr, now)
      return { status: 401, message: 'wrong token: use the login link the node printed' }
    }
    const id = randomBytes(32).toString('base64url')
    this.sessions.set(id, now + SESSION_TTL_MS)
    for (const old of this.sessions.keys()) {
      if (this.sessions.size <= MAX_SESSIONS) break
      this.sessions.delete(old)
    }
    return { cookie: `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}` }
  }
}
