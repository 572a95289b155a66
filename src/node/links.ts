/**
 * Persistent neighbour links (docs/PROTOCOL.md §4.10): one session (LINK) to every neighbour whose
 * CAPS lists LINK, kept open while it stays in the peer table, carrying this node's SRCH and HITS
 * to it and the keepalive (NAME every LINK_KEEPALIVE_MS, with the stabilizer). A request that
 * cannot go on a link (no link, the peer does not list LINK, the link busy or failed) goes on its
 * own connection as before: legacy peers and one-shot clients never see a link. A link that
 * closes under the node is checked at once (one NAME on a new connection): a neighbour that does
 * not answer is dropped (the graph repair of §3.9 follows), one that does gets a new link.
 */
import { EventEmitter } from 'node:events'
import { request, type Endpoint, type ExchangeOptions, type Payload, type ReplyFrame } from '../net/client.ts'
import { SessionClient } from '../net/session-client.ts'
import { MSG } from '../protocol/constants.ts'
import type { Lifecycle } from './lifecycle.ts'
import type { PeerInfo, PeerTable } from './peer-table.ts'
import { errText, type Log } from './stats.ts'

/** What a LinkManager works with. */
export interface LinkOptions {
  peers: PeerTable
  /** How peers are dialled; carries the node's stop signal. */
  dial: ExchangeOptions & { connectTimeoutMs: number }
  life: Lifecycle
  log: Log
  /** false: never open links (a one-shot client). */
  enabled: boolean
}

/** Counters of the links (for tests and the bench). */
export interface LinkStats {
  /** Links opened (sessions that answered). */
  opened: number
  /** Requests that went on a link. */
  onLink: number
  /** Requests that went on their own connection. */
  oneShot: number
}

/** Events: 'link-lost' (peer id, reason). */
export class LinkManager extends EventEmitter {
  readonly stats: LinkStats = { opened: 0, onLink: 0, oneShot: 0 }
  private readonly links = new Map<string, { session: SessionClient; ready: Promise<boolean> }>()

  constructor(private readonly opts: LinkOptions) {
    super()
    opts.peers.on('removed', (p: PeerInfo) => this.close(p.id))
  }

  /** The open (or opening) link to `id`, if any. */
  has(id: string): boolean {
    return this.links.has(id)
  }

  /**
   * Open a link to a neighbour that lists LINK in its CAPS (idempotent; nothing for one that
   * does not, or once the node is stopping). Never rejects.
   * @returns whether the link is open.
   */
  open(p: PeerInfo): Promise<boolean> {
    const { life, dial, log, enabled } = this.opts
    if (!enabled || !p.link || life.stopped || !this.opts.peers.has(p.id)) return Promise.resolve(false)
    const have = this.links.get(p.id)
    if (have && !have.session.closed) return have.ready
    const session = new SessionClient(p, { ...(dial.transport ? { transport: dial.transport } : {}), connectTimeoutMs: dial.connectTimeoutMs, idleTimeoutMs: dial.connectTimeoutMs * 2 })
    const ready = life.track(session.open(MSG.LINK, '{}')).then(
      () => {
        if (this.opts.life.signal.aborted) session.close()
        else this.stats.opened++
        return !session.closed
      },
      (err: unknown) => {
        log('debug', `link to ${p.id} not opened: ${errText(err)}`)
        return false
      }
    )
    const entry = { session, ready }
    this.links.set(p.id, entry)
    session.once('close', (err: Error) => {
      if (this.links.get(p.id) !== entry) return
      this.links.delete(p.id)
      if (!life.stopped && this.opts.peers.has(p.id)) this.emit('link-lost', p.id, errText(err))
    })
    return ready
  }

  /**
   * Send a control request to `to`: on the link to that peer id when one is open, else on its own
   * connection. @returns the reply frames (one on a link). @throws as net/client.ts request().
   */
  async request(to: Endpoint & { id?: string }, type: string, payload: Payload): Promise<ReplyFrame[]> {
    const link = to.id !== undefined ? this.links.get(to.id) : undefined
    if (link && !link.session.closed && (await link.ready)) {
      try {
        const r = await link.session.request(type, payload)
        this.stats.onLink++
        return [r]
      } catch (err) {
        // Busy or failed: this one request goes on its own connection (a lost link is handled on 'close').
        this.opts.log('debug', `link to ${to.id}: ${errText(err)}; ${type} on its own connection`)
      }
    }
    this.stats.oneShot++
    return request(to, type, payload, this.opts.dial)
  }

  /**
   * Keepalive of a linked neighbour: NAME on its link (opened first when missing).
   * @returns true when it answered, false when it has no link to use (check it another way).
   * @throws when the link failed or the peer did not answer in time.
   */
  async keepalive(p: PeerInfo): Promise<boolean> {
    if (!(await this.open(p))) return false
    const link = this.links.get(p.id)
    if (!link) return false
    const r = await link.session.request(MSG.NAME, '')
    if (r.type !== MSG.REPL) throw new Error(`keepalive of ${p.id}: ${r.payload.toString('utf8').slice(0, 200)}`)
    return true
  }

  /** Close the link to `id`. */
  close(id: string): void {
    const link = this.links.get(id)
    this.links.delete(id)
    link?.session.close()
  }

  /** Close every link (the node is stopping). */
  closeAll(): void {
    for (const id of [...this.links.keys()]) this.close(id)
  }
}
