/**
 * The private group's transport (docs/PROTOCOL.md §8): mutual TLS 1.3 between members, with
 * certificates issued by the group CA, checked against the group's revocation list on every
 * connection; open connections of a member revoked later are closed. A node serves with its
 * credential's nameless server certificate (pki.ts issueCert) when it has one, so a client that
 * is not a member learns no member name from the handshake; it dials with its named certificate,
 * which TLS 1.3 sends only after the server's certificate was verified against the group CA.
 */
import { X509Certificate } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import tls from 'node:tls'
import { onReadOption, type DialOptions, type PeerIdentity, type Transport } from '../net/transport.ts'
import { REQUEST_TIMEOUT_MS } from '../protocol/constants.ts'
import { PUBLISHER_TYPES } from '../protocol/table.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import type { GroupCredential } from './credential.ts'
import { normSerial, parseClaims, parseServerClaims, pseudonym } from './pki.ts'
import type { Revocations } from './revocation.ts'

/** Event a group socket emits once the handshake is done and the peer checked. */
export const GROUP_READY = 'p2ptube:secure'

/** TLS 1.3 suites in order of preference (AES-128-GCM first: fastest with AES-NI). */
const CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'

/**
 * The group transport. Events: 'refused' ({ remoteAddress, reason }) for every connection
 * refused (handshake failure, not a member, revoked), 'revoked-closed' (PeerIdentity) when an
 * open connection is closed because its member was revoked.
 */
export class GroupTransport extends EventEmitter implements Transport {
  readonly kind = 'group' as const
  readonly readyEvent = GROUP_READY
  private readonly ids = new WeakMap<net.Socket, PeerIdentity>()
  private readonly open = new Set<tls.TLSSocket>()

  /**
   * @param cred this member's credential (key, certificate, group CA).
   * @param revocations the revocation list in force; when it changes, open connections of newly
   *   revoked members are closed.
   */
  constructor(
    readonly cred: GroupCredential,
    readonly revocations: Revocations,
    private readonly handshakeTimeoutMs = REQUEST_TIMEOUT_MS
  ) {
    super()
    revocations.on('update', () => this.closeRevoked())
  }

  /** TLS options as a client (`server` false: the named certificate) or as a server (the nameless one, when the credential has it). */
  private tlsOptions(server: boolean): tls.SecureContextOptions & tls.CommonConnectionOptions {
    const cert = server ? (this.cred.serverCert ?? this.cred.cert) : this.cred.cert
    return { key: this.cred.key, cert, ca: [this.cred.ca], minVersion: 'TLSv1.3', ciphers: CIPHERS }
  }

  /** One client context for every dial (parsing the key and certificates per connection costs ~1 ms). */
  private clientContext: tls.SecureContext | null = null
  /**
   * TLS 1.3 session tickets by "host:port": a resumed handshake skips the certificate signatures
   * (a swarm download opens one connection per 4 MiB run). The peer's certificate comes from the
   * session and is checked (group, revocation, rights) as on a full handshake.
   */
  private readonly sessions = new Map<string, { ticket: Buffer; id: PeerIdentity }>()

  /**
   * Check a handshaken socket's peer: group member, not revoked. A server (`peerIsServer`) may
   * show a nameless server certificate: its identity is then the member's serial it carries, named
   * by a pseudonym; a client must show its named certificate.
   * @returns why not, or the identity.
   */
  private check(socket: tls.TLSSocket, peerIsServer: boolean): PeerIdentity | string {
    if (!socket.authorized) return `certificate not accepted: ${String(socket.authorizationError)}`
    const c = socket.getPeerCertificate()
    const own = normSerial(c.serialNumber)
    const claims = parseClaims(c?.subjectaltname)
    const nameless = !claims && peerIsServer ? parseServerClaims(c?.subjectaltname) : undefined
    const id: PeerIdentity | undefined = claims
      ? { ...claims, serial: own }
      : nameless && { group: nameless.group, name: pseudonym(nameless.member), serial: nameless.member, publish: nameless.publish, role: nameless.role }
    if (!id) return 'certificate carries no p2ptube member claims'
    if (id.group !== this.cred.group) return `member of group ${id.group}, not ${this.cred.group}`
    if (this.revocations.has(id.serial) || this.revocations.has(own)) return `${id.name}'s credential (serial ${id.serial}) is revoked`
    return id
  }

  private checkIdentity(id: PeerIdentity): PeerIdentity | string {
    return this.revocations.has(id.serial) ? `${id.name}'s credential (serial ${id.serial}) is revoked` : id
  }

  private track(socket: tls.TLSSocket, id: PeerIdentity): void {
    this.ids.set(socket, id)
    this.open.add(socket)
    socket.once('close', () => this.open.delete(socket))
  }

  private refused(remoteAddress: string | undefined, reason: string): void {
    this.emit('refused', { remoteAddress: remoteAddress ?? '?', reason })
  }

  /** Close every open connection whose member is now revoked. @returns how many. */
  closeRevoked(): number {
    let n = 0
    for (const s of this.open) {
      const id = this.ids.get(s)
      if (id && this.revocations.has(id.serial)) {
        this.open.delete(s)
        s.destroy()
        n++
        this.emit('revoked-closed', id)
      }
    }
    return n
  }

  /** Open (authenticated) connections now, both directions. */
  get openConnections(): number {
    return this.open.size
  }

  connect(to: { host: string; port: number }, opts: DialOptions = {}): net.Socket {
    return this.dial(to, opts, null)
  }

  /** Mutual TLS over a socket a route made (net/route.ts): end to end through a relay or a punched hole. */
  over(raw: net.Socket, opts: DialOptions = {}): net.Socket {
    return this.dial({ host: raw.remoteAddress ?? '?', port: raw.remotePort ?? 0 }, opts, raw)
  }

  private dial(to: { host: string; port: number }, opts: DialOptions, raw: net.Socket | null): net.Socket {
    this.clientContext ??= tls.createSecureContext(this.tlsOptions(false))
    const key = `${to.host}:${to.port}`
    const socket = tls.connect({
      secureContext: this.clientContext,
      minVersion: 'TLSv1.3',
      ...(raw ? { socket: raw } : { host: to.host, port: to.port }),
      ...(this.sessions.has(key) ? { session: this.sessions.get(key)!.ticket } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.readBuffer ? { onread: onReadOption(opts.readBuffer) } : {}),
      // Members are named by their certificate, not by a host name: the CA check is the identity check.
      checkServerIdentity: () => undefined
    })
    if (opts.noDelay) socket.setNoDelay(true)
    const resumed = this.sessions.get(key)
    socket.on('session', (ticket: Buffer) => {
      const id = this.ids.get(socket)
      if (!id) return
      if (this.sessions.size >= 1024 && !this.sessions.has(key)) this.sessions.delete(this.sessions.keys().next().value as string)
      this.sessions.set(key, { ticket, id })
    })
    socket.once('secureConnect', () => {
      // A resumed session proves the server is the one verified on the full handshake; Node
      // does not expose its certificate again on the client side, so the identity is the saved one.
      const id = socket.isSessionReused() && resumed ? this.checkIdentity(resumed.id) : this.check(socket, true)
      if (typeof id === 'string') {
        this.refused(to.host, id)
        return void socket.destroy(new P2PTubeError(id.includes('revoked') ? 'ERR_REVOKED' : 'ERR_NOT_MEMBER', `${to.host}:${to.port}: ${id}`))
      }
      if (opts.type && PUBLISHER_TYPES.has(opts.type) && !id.publish) {
        this.refused(to.host, `${id.name} may not publish`)
        return void socket.destroy(new P2PTubeError('ERR_NOT_PUBLISHER', `${to.host}:${to.port} is ${id.name}, who may not publish: its files are not taken`))
      }
      this.track(socket, id)
      socket.emit(GROUP_READY)
    })
    return socket
  }

  createServer(onConnection: (socket: net.Socket) => void, opts: { allowHalfOpen?: boolean } = {}): net.Server {
    const server = tls.createServer(
      { ...this.tlsOptions(true), requestCert: true, rejectUnauthorized: true, handshakeTimeout: this.handshakeTimeoutMs, allowHalfOpen: opts.allowHalfOpen ?? false },
      (socket) => {
        const id = this.check(socket, false)
        if (typeof id === 'string') {
          this.refused(socket.remoteAddress, id)
          return void socket.destroy()
        }
        this.track(socket, id)
        onConnection(socket)
      }
    )
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      this.refused(socket.remoteAddress, err.code ?? err.message)
      socket.destroy()
    })
    // Connections still in their handshake are not the owner's to see: close() ends them too,
    // or it would wait for the handshake timeout.
    const raw = new Set<net.Socket>()
    server.on('connection', (s: net.Socket) => {
      raw.add(s)
      s.once('close', () => raw.delete(s))
    })
    const close = server.close.bind(server)
    server.close = (cb?: (err?: Error) => void) => {
      close(cb)
      for (const s of raw) s.destroy()
      return server
    }
    return server
  }

  peerOf(socket: net.Socket): PeerIdentity | undefined {
    return this.ids.get(socket)
  }

  /** Why `socket`'s peer certificate is not one the group CA issued and still valid, or null. */
  private verifyPeerChain(socket: tls.TLSSocket): string | null {
    const cert = socket.getPeerX509Certificate()
    if (!cert) return 'no certificate'
    this.caCert ??= new X509Certificate(this.cred.ca)
    if (!cert.checkIssued(this.caCert) || !cert.verify(this.caCert.publicKey)) return 'certificate not issued by the group CA'
    const now = Date.now()
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return 'certificate expired or not yet valid'
    socket.authorized = true
    return null
  }

  private caCert: X509Certificate | null = null

  /** One server context for every adopted connection. */
  private serverContext: tls.SecureContext | null = null

  /**
   * Serve `raw` (a relay circuit: its far end is a member dialling this node through the relay)
   * as an accepted connection: this side is the TLS server, the member check is the one of a
   * direct connection, and the relay only ever sees the TLS records (docs/SECURITY.md "Relay").
   * A failed handshake or check closes `raw` and emits 'refused'.
   */
  adopt(raw: net.Socket, onConnection: (socket: net.Socket) => void): void {
    // A session id context as tls.createServer sets one: a client resuming a TLS session (its
    // ticket) would otherwise fail the handshake.
    this.serverContext ??= tls.createSecureContext({ ...this.tlsOptions(true), sessionIdContext: 'p2ptube-group-relayed' })
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: this.serverContext, requestCert: true, rejectUnauthorized: true })
    const remote = raw.remoteAddress
    const timer = setTimeout(() => {
      this.refused(remote, 'no TLS handshake through the relay in time')
      socket.destroy()
    }, this.handshakeTimeoutMs)
    socket.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer)
      this.refused(remote, err.code ?? err.message)
      socket.destroy()
    })
    socket.once('close', () => clearTimeout(timer))
    socket.once('secure', () => {
      clearTimeout(timer)
      // Node sets `authorized` only on sockets its own TLS server accepted: check the chain here
      // (the member certificate is issued by the group CA directly, pathlen 0; TLS proved the key).
      const why = this.verifyPeerChain(socket)
      if (why) {
        this.refused(remote, why)
        return void socket.destroy()
      }
      const id = this.check(socket, false)
      if (typeof id === 'string') {
        this.refused(remote, id)
        return void socket.destroy()
      }
      this.track(socket, id)
      onConnection(socket)
    })
  }

  /**
   * Who listens at `to`: dial, complete the handshake, read the verified identity, send PING
   * (answered by a close) and hang up.
   * @throws P2PTubeError ERR_CONNECT / ERR_NOT_MEMBER / ERR_REVOKED, TimeoutError semantics as
   *   P2PTubeError ERR_TIMEOUT after `timeoutMs`.
   */
  identify(to: { host: string; port: number }, timeoutMs = REQUEST_TIMEOUT_MS): Promise<PeerIdentity> {
    return new Promise((resolve, reject) => {
      const socket = this.connect(to)
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new P2PTubeError('ERR_TIMEOUT', `${to.host}:${to.port}: no TLS handshake within ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once(GROUP_READY, () => {
        clearTimeout(timer)
        const id = this.ids.get(socket) as PeerIdentity
        socket.end(PING_FRAME)
        socket.resume()
        resolve(id)
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(err instanceof P2PTubeError ? err : new P2PTubeError('ERR_CONNECT', `cannot connect to ${to.host}:${to.port}: ${err.code ?? err.message}`))
      })
      socket.once('close', () => {
        clearTimeout(timer)
        reject(new P2PTubeError('ERR_CONNECTION_CLOSED', `${to.host}:${to.port} closed before the handshake ended`))
      })
    })
  }
}

/** A PING frame: type "PING", length 0 (PROTOCOL.md §3.8). */
const PING_FRAME = Buffer.from('PING\0\0\0\0', 'latin1')

/** The group transport for a credential, enforcing `revocations`. */
export function groupTransport(cred: GroupCredential, revocations: Revocations): GroupTransport {
  return new GroupTransport(cred, revocations)
}
