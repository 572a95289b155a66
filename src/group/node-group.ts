/**
 * What a node does as a member of a private group (docs/PROTOCOL.md §8): its TLS transport and
 * revocation list, publish rights on what it receives and offers, "is this address that
 * member?" checks for JOIN/QUIT, and fetching the revocation list from the tracker (TREV) once
 * per announce interval.
 */
import { createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Handler, Refusal, RequestContext } from '../net/server.ts'
import type { PeerIdentity } from '../net/transport.ts'
import { PUBLISHER_TYPES, RESULT_TYPES } from '../protocol/table.ts'
import { GroupTransport } from './transport.ts'
import type { GroupCredential } from './credential.ts'
import { Revocations, type RevocationBody } from './revocation.ts'

/** Where a member node is: "host:port" parts. */
export interface MemberEndpoint {
  host: string
  port: number
}

/** NodeGroup options. */
export interface NodeGroupOptions {
  /**
   * Folder where the newest verified revocation list is kept across restarts (a node's data
   * dir); the file is named after the group. Without it a node knows only its credential's list
   * until the tracker answers.
   */
  stateDir?: string | null
}

/**
 * Events: 'log' (level, msg), 'revocations' (RevocationBody, newly revoked serials).
 */
export class NodeGroup extends EventEmitter {
  readonly revocations: Revocations
  readonly transport: GroupTransport
  /** Peer id → certificate serial of the member verified to listen there. */
  private readonly memberAt = new Map<string, string>()
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  /** The saved revocation list (null: none kept), and the queue of its writes. */
  readonly stateFile: string | null
  private saving: Promise<void> = Promise.resolve()

  /** @throws ProtocolError when the credential's embedded revocation list does not verify. */
  constructor(
    readonly cred: GroupCredential,
    opts: NodeGroupOptions = {}
  ) {
    super()
    this.revocations = new Revocations(cred.ca, cred.group)
    if (cred.revocations) this.revocations.apply(cred.revocations)
    this.transport = new GroupTransport(cred, this.revocations)
    // One file per group (a node may be started with several credentials over time).
    this.stateFile = opts.stateDir ? path.join(opts.stateDir, `revocations-${createHash('sha256').update(cred.group).digest('hex').slice(0, 16)}.json`) : null
    this.revocations.on('update', (b: RevocationBody, added: string[]) => {
      for (const [id, serial] of this.memberAt) if (this.revocations.has(serial)) this.memberAt.delete(id)
      this.emit('revocations', b, added)
      this.save()
    })
    this.transport.on('refused', (r: { remoteAddress: string; reason: string }) => this.emit('log', 'warn', `group: refused ${r.remoteAddress}: ${r.reason}`))
    this.transport.on('revoked-closed', (p: PeerIdentity) => this.emit('log', 'info', `group: closed a connection of ${p.name} (revoked)`))
  }

  /**
   * Load the revocation list saved by an earlier run (PROTOCOL.md §8.4): it is verified against
   * the group CA like a received one and applied only when newer than the credential's, so a
   * restart never forgets a revocation and a file swapped for an older list changes nothing.
   * A missing file is normal; an unreadable or invalid one is logged and ignored.
   */
  async loadSaved(): Promise<void> {
    if (!this.stateFile) return
    let text: string
    try {
      text = await fs.readFile(this.stateFile, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.emit('log', 'warn', `group: cannot read ${this.stateFile}: ${(err as Error).message}`)
      return
    }
    try {
      if (this.revocations.apply(text)) this.emit('log', 'info', `group: revocation list version ${this.revocations.version} loaded from ${this.stateFile}`)
    } catch (err) {
      this.emit('log', 'warn', `group: ignoring ${this.stateFile}: ${(err as Error).message}`)
    }
  }

  /** Resolves when the newest list is written (tests; stop). */
  saved(): Promise<void> {
    return this.saving
  }

  /** Write the list held now, atomically (temp file + rename), after any write in progress. */
  private save(): void {
    const file = this.stateFile
    if (!file) return
    this.saving = this.saving.then(async () => {
      const signed = this.revocations.signed
      if (!signed) return
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
      try {
        await fs.mkdir(path.dirname(file), { recursive: true })
        await fs.writeFile(tmp, JSON.stringify(signed), { mode: 0o600 })
        await fs.rename(tmp, file)
      } catch (err) {
        await fs.rm(tmp, { force: true }).catch(() => {})
        this.emit('log', 'warn', `group: cannot save the revocation list to ${file}: ${(err as Error).message}`)
      }
    })
  }

  /** May this member publish (have its files found and fetched)? */
  get publish(): boolean {
    return this.cred.publish
  }

  /**
   * Publish rights on requests (FrameServer guard): HITS/RESP only from publishers; file data
   * (FGET/RGET/HASH) only from this node when it is a publisher.
   */
  request(type: string, peer: PeerIdentity | undefined): Refusal | undefined {
    if (RESULT_TYPES.has(type) && !peer?.publish) return { code: 'ERR_NOT_PUBLISHER', message: `${peer?.name ?? 'sender'} may not publish: its results are ignored` }
    if (PUBLISHER_TYPES.has(type) && !this.publish) return { code: 'ERR_NOT_PUBLISHER', message: `${this.cred.name} may not publish: no files are served here` }
    return undefined
  }

  /**
   * Is the node listening at `at` (peer id `id`) the member `peer`? Dials it (TLS handshake and
   * PING) unless a previous check is cached.
   * @param fresh ignore the cache (JOIN: the address is being claimed now).
   */
  async isMemberAt(id: string, at: MemberEndpoint, peer: PeerIdentity, fresh = false): Promise<boolean> {
    const known = fresh ? undefined : this.memberAt.get(id)
    if (known) return known === peer.serial
    try {
      const there = await this.transport.identify(at, 5000)
      this.memberAt.set(id, there.serial)
      return there.serial === peer.serial
    } catch (err) {
      this.emit('log', 'debug', `group: cannot check who listens at ${id}: ${(err as Error).message}`)
      return false
    }
  }

  /**
   * The TREV request handler of a member node: the group tracker pushes a newer signed list the
   * moment the admin revokes someone (PROTOCOL.md §8.4). Only the tracker's certificate may push;
   * the list must verify against the CA like a fetched one.
   * Replies REPL "applied" or "not newer"; ERRO ERR_NOT_TRACKER from anyone else,
   * ERR_BAD_REVOCATIONS (ProtocolError) for a list that does not verify.
   */
  pushHandler(): Handler {
    return (ctx: RequestContext) => {
      if (ctx.peer?.role !== 'tracker') return ctx.error('ERR_NOT_TRACKER', `only the group's tracker pushes revocation lists, not ${ctx.peer?.name ?? 'this peer'}`)
      const applied = this.revocations.apply(ctx.payload)
      if (applied) this.emit('log', 'info', `group: the tracker pushed revocation list version ${this.revocations.body?.version}`)
      return ctx.reply(applied ? 'applied' : 'not newer')
    }
  }

  /**
   * Fetch the revocation list with `ask` (TREV to the tracker) now and then every `intervalMs()`
   * (the tracker's announce interval). A list that does not verify is logged and ignored.
   */
  startSync(ask: () => Promise<string>, intervalMs: () => number): void {
    const tick = async (): Promise<void> => {
      try {
        this.revocations.apply(await ask())
      } catch (err) {
        this.emit('log', 'debug', `group: revocation list not updated: ${(err as Error).message}`)
      }
      if (this.stopped) return
      this.timer = setTimeout(() => void tick(), intervalMs())
      this.timer.unref()
    }
    void tick()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
  }
}
