/**
 * Group test helpers: a real group made with `openssl` (GroupAdmin, as `p2ptube group` does),
 * member credentials, raw TLS clients with good, missing, self-signed and foreign certificates,
 * and a capturing TCP proxy.
 */
import type { ExecutionContext } from 'ava'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { GroupAdmin } from '../../src/group/admin.ts'
import { loadCredential, type GroupCredential } from '../../src/group/credential.ts'
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.ts'
import { tempDir } from '../helpers/nodes.ts'

/** A group with its admin dir and loaded credentials by member name. */
export interface TestGroup {
  admin: GroupAdmin
  dir: string
  creds: Record<string, GroupCredential>
}

/** Create a group and invite `members` ({ name: publish? }). */
export async function makeGroup(t: ExecutionContext, members: Record<string, boolean>, name = 'testers'): Promise<TestGroup> {
  const dir = path.join(await tempDir(t, 'p2ptube-group'), 'admin')
  const admin = new GroupAdmin(dir)
  await admin.init(name)
  const creds: Record<string, GroupCredential> = {}
  // One at a time: the register is read, changed and written by each issue (as by the CLI).
  for (const [n, publish] of Object.entries(members)) creds[n] = loadCredential((await admin.issue(n, publish)).file)
  return { admin, dir, creds }
}

/** A self-signed P-256 certificate (not issued by any group). */
export async function selfSigned(t: ExecutionContext): Promise<{ key: string; cert: string }> {
  const dir = await tempDir(t, 'p2ptube-self')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
      '-days',
      '2',
      '-subj',
      '/CN=mallory',
      '-addext',
      'subjectAltName=URI:p2ptube:member:mallory?group=x&publish=1&role=member'
    ],
    { cwd: dir, stdio: 'ignore' }
  )
  return { key: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8') }
}

/** What a raw TLS client got: decrypted bytes, reply frames, and how the connection ended. */
export interface TlsResult {
  bytes: Buffer
  frames: Array<{ type: string; text: string }>
  handshake: boolean
  error?: string
}

/**
 * Connect with TLS (not verifying the server), send one frame, collect what comes back until the
 * server closes (or `timeoutMs`).
 */
export function tlsExchange(port: number, type: string, payload: string, creds: { key?: string; cert?: string; ca?: string } = {}, timeoutMs = 5000): Promise<TlsResult> {
  return new Promise((resolve) => {
    const got: Buffer[] = []
    const frames: Array<{ type: string; text: string }> = []
    const dec = new FrameDecoder(() => ({ maxLength: 64 << 20 }), { frame: (ty, p) => frames.push({ type: ty, text: p.toString('utf8') }) })
    let handshake = false
    let error: string | undefined
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.2', ...creds })
    const timer = setTimeout(() => s.destroy(), timeoutMs)
    s.once('secureConnect', () => {
      handshake = true
      s.write(encodeFrame(type, payload))
    })
    s.on('data', (c: Buffer) => {
      got.push(c)
      try {
        dec.push(c)
      } catch {
        /* counted as bytes */
      }
    })
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message))
    s.once('close', () => {
      clearTimeout(timer)
      resolve({ bytes: Buffer.concat(got), frames, handshake, ...(error ? { error } : {}) })
    })
  })
}

/** A TCP proxy on 127.0.0.1 that records every byte in both directions. */
export async function captureProxy(t: ExecutionContext, to: number): Promise<{ port: number; captured(): Buffer }> {
  const chunks: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((c) => {
    const up = net.connect(to, '127.0.0.1')
    sockets.add(c).add(up)
    c.on('data', (d: Buffer) => chunks.push(Buffer.from(d)))
    up.on('data', (d: Buffer) => chunks.push(Buffer.from(d)))
    c.pipe(up).pipe(c)
    const close = (): void => {
      c.destroy()
      up.destroy()
    }
    c.on('error', close).on('close', close)
    up.on('error', close).on('close', close)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, captured: () => Buffer.concat(chunks) }
}
