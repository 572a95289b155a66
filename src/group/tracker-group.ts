/**
 * A private group's tracker (docs/PROTOCOL.md §8): run by the admin with `--group-admin DIR`, it
 * accepts only members over mutual TLS (its own credential is DIR/credentials/tracker.json),
 * indexes only publishers' files, and hands out the signed revocation list (TREV), re-read from
 * DIR/revocations.json whenever `p2ptube group revoke` changes it. Peers of a member revoked
 * later are dropped from the index and their open connections closed.
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import { request } from '../net/client.ts'
import type { Handler, RequestContext } from '../net/server.ts'
import type { PeerIdentity } from '../net/transport.ts'
import { GroupTransport } from './transport.ts'
import { MSG } from '../protocol/constants.ts'
import { parsePeerId } from '../protocol/messages.ts'
import { GroupAdmin } from './admin.ts'
import { loadCredential, type GroupCredential } from './credential.ts'
import { Revocations, type RevocationBody } from './revocation.ts'

/** Events: 'revoked' (peer ids whose member was revoked), 'log' (level, msg). */
export class TrackerGroup extends EventEmitter {
  readonly cred: GroupCredential
  readonly revocations: Revocations
  readonly transport: GroupTransport
  /** Registered peer id → member certificate serial. */
  private readonly members = new Map<string, string>()
  private mtimeMs = 0
  private poller: NodeJS.Timeout | null = null
  private readonly revocationsFile: string

  /**
   * @param adminDir the admin's data dir (`p2ptube group init`).
   * @throws P2PTubeError ERR_NO_GROUP / ERR_NO_CREDENTIAL / ERR_BAD_CREDENTIAL, ProtocolError for
   *   a revocation list that does not verify.
   */
  constructor(readonly adminDir: string) {
    super()
    const admin = new GroupAdmin(adminDir)
    admin.info()
    this.cred = loadCredential(admin.trackerCredentialFile)
    this.revocations = new Revocations(this.cred.ca, this.cred.group)
    this.transport = new GroupTransport(this.cred, this.revocations)
    this.revocationsFile = admin.revocationsFile
    this.refresh()
    this.revocations.on('update', (b: RevocationBody) => {
      const gone: string[] = []
      for (const [id, serial] of this.members) if (this.revocations.has(serial)) gone.push(id)
      for (const id of gone) this.members.delete(id)
      this.emit('log', 'info', `group: revocation list version ${b.version} (${b.revoked.length} revoked)`)
      if (gone.length) this.emit('revoked', gone)
      void this.push()
    })
    this.transport.on('refused', (r: { remoteAddress: string; reason: string }) => this.emit('log', 'warn', `group: refused ${r.remoteAddress}: ${r.reason}`))
  }

  /** Re-read the admin's revocation list when the file changed. @returns whether a newer list was applied. */
  refresh(): boolean {
    try {
      const st = fs.statSync(this.revocationsFile)
      if (st.mtimeMs === this.mtimeMs) return false
      this.mtimeMs = st.mtimeMs
      return this.revocations.apply(fs.readFileSync(this.revocationsFile))
    } catch (err) {
      this.emit('log', 'warn', `group: cannot read ${this.revocationsFile}: ${(err as Error).message}`)
      return false
    }
  }

  /** Check the admin's file every `everyMs` (default 500) until stop(). */
  start(everyMs = 500): void {
    this.poller = setInterval(() => this.refresh(), everyMs)
    this.poller.unref()
  }

  stop(): void {
    if (this.poller) clearInterval(this.poller)
  }

  /**
   * Push the current signed list to every registered member node (TREV with the envelope as
   * payload, over the group's TLS), so a revocation takes effect at once instead of at each
   * node's next TREV poll. Best effort: a node that cannot be reached still polls.
   * @returns how many nodes took it (REPL).
   */
  async push(): Promise<number> {
    const signed = this.revocations.signed
    if (!signed || !this.members.size) return 0
    const payload = JSON.stringify(signed)
    const results = await Promise.allSettled(
      [...this.members.keys()].map(async (id) => {
        const at = parsePeerId(id)
        const frames = await request(at, MSG.TREV, payload, { transport: this.transport, connectTimeoutMs: 2000, idleTimeoutMs: 2000 })
        if (frames[0]?.type !== MSG.REPL) throw new Error(frames[0]?.payload.toString() ?? 'no reply')
      })
    )
    const ok = results.filter((r) => r.status === 'fulfilled').length
    this.emit('log', 'info', `group: pushed revocation list version ${this.revocations.body?.version} to ${ok} of ${results.length} member nodes`)
    return ok
  }

  /** A peer registered: remember its member. */
  bind(id: string, peer: PeerIdentity | undefined): void {
    if (peer) this.members.set(id, peer.serial)
  }

  /** May this connection's member have files indexed? */
  mayPublish(peer: PeerIdentity | undefined): boolean {
    return peer?.publish === true
  }

  /** The TREV handler: the current signed list (always fresh from the admin dir). */
  trevHandler(): Handler {
    return (ctx: RequestContext) => {
      this.refresh()
      return ctx.reply(JSON.stringify(this.revocations.signed))
    }
  }
}
