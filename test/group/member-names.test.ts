/**
 * Member names in the TLS handshake (issue #11, low item): a node serves with its credential's
 * nameless server certificate (src/group/pki.ts issueCert), so a client without a credential
 * learns the group, the rights and a serial, but not the member's name; members still know who
 * they talk to (the serial, which the revocation list names), revocation still holds, and the
 * member's named certificate is only sent as a client certificate, after the server was verified.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import tls from 'node:tls'
import type { GroupCredential } from '../../src/group/credential.ts'
import { Revocations } from '../../src/group/revocation.ts'
import { GroupTransport } from '../../src/group/transport.ts'
import { checkCredential, type CredentialFile } from '../../src/group/credential.ts'
import { startNode } from '../helpers/nodes.ts'
import { captureProxy, makeGroup } from './helpers.ts'

const NAME = 'alice-secret-name'

/** What a TLS client with no certificate receives from `port`: the server's certificate (parsed and DER) and the decrypted bytes. */
function noCredentialClient(port: number): Promise<{ cert: tls.DetailedPeerCertificate | null; der: Buffer; bytes: Buffer; handshake: boolean }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' })
    const got: Buffer[] = []
    let cert: tls.DetailedPeerCertificate | null = null
    let der = Buffer.alloc(0)
    let handshake = false
    s.once('secureConnect', () => {
      handshake = true
      cert = s.getPeerCertificate(true)
      der = s.getPeerX509Certificate()?.raw ?? der
      s.write('NAME\0\0\0\0')
    })
    s.on('data', (d: Buffer) => got.push(d))
    s.on('error', () => {})
    s.once('close', () => resolve({ cert, der, bytes: Buffer.concat(got), handshake }))
  })
}

test('a client without a credential learns no member name from a member node: not in the server certificate (DER, subject, SAN), not on the wire', async (t) => {
  const g = await makeGroup(t, { [NAME]: true })
  const cred = g.creds[NAME]!
  t.truthy(cred.serverCert, 'group invite issues the nameless server certificate')
  const node = await startNode(t, { group: cred })
  const proxy = await captureProxy(t, node.port)
  const r = await noCredentialClient(proxy.port)
  t.true(r.handshake, 'the client saw the server certificate (TLS 1.3 sends it before the client proves anything)')
  t.true(r.der.length > 0)
  t.false(r.der.includes(Buffer.from(NAME)), 'the name is not in the certificate the server sent')
  t.false(JSON.stringify(r.cert?.subject).includes(NAME))
  t.false(String(r.cert?.subjectaltname).includes(NAME))
  t.regex(String(r.cert?.subjectaltname), new RegExp(`p2ptube:server:${cred.serial}\\?group=${cred.group}`), 'a pseudonym: the member serial')
  t.false(r.bytes.includes(Buffer.from(NAME)), 'nor in anything decrypted after the handshake')
  t.false(proxy.captured().includes(Buffer.from(NAME)), 'nor on the wire')
  t.is(r.bytes.length, 0, 'and nothing is answered to a client without a credential')
})

test('a credential without the server certificate (issued before it) still works, and still shows the name: the reason to reissue', async (t) => {
  const g = await makeGroup(t, { [NAME]: true, bob: false })
  const { serverCert: _, ...old } = g.creds[NAME]!
  const node = await startNode(t, { group: old as GroupCredential })
  const r = await noCredentialClient(node.port)
  t.true(r.der.includes(Buffer.from(NAME)), 'the named certificate carries it (what every node served before)')
  const bob = g.creds.bob!
  const id = await new GroupTransport(bob, new Revocations(bob.ca, bob.group)).identify({ host: '127.0.0.1', port: node.port })
  t.like(id, { name: NAME, serial: g.creds[NAME]!.serial }, 'a member with a new credential accepts it')
})

test('members know each other by serial: a member sees the pseudonym of the right serial, and revoking the member refuses its nameless certificate too', async (t) => {
  const g = await makeGroup(t, { alice: true, bob: false })
  const alice = await startNode(t, { group: g.creds.alice })
  const bob = g.creds.bob!
  const revocations = new Revocations(bob.ca, bob.group)
  const tr = new GroupTransport(bob, revocations)
  const id = await tr.identify({ host: '127.0.0.1', port: alice.port })
  t.like(id, { name: `member#${g.creds.alice!.serial}`, serial: g.creds.alice!.serial, publish: true, role: 'member' })
  const { revocations: signed } = await g.admin.revoke('alice')
  t.true(revocations.apply(signed))
  const err = await t.throwsAsync(tr.identify({ host: '127.0.0.1', port: alice.port }))
  t.is((err as { code?: string }).code, 'ERR_REVOKED')
})

test('a credential whose server certificate belongs to another member or key is refused', async (t) => {
  const g = await makeGroup(t, { alice: true, bob: true })
  const file = JSON.parse(await fs.readFile(g.creds.alice!.file!, 'utf8')) as CredentialFile
  const bobFile = JSON.parse(await fs.readFile(g.creds.bob!.file!, 'utf8')) as CredentialFile
  t.notThrows(() => checkCredential(file))
  t.throws(() => checkCredential({ ...file, serverCert: bobFile.serverCert! }), { code: 'ERR_BAD_CREDENTIAL' })
})
