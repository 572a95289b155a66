/**
 * The network lab itself (test/helpers/netlab.ts): hosts of one LAN reach each other on their own
 * addresses; behind the NAT routers a home reaches the internet (seen as its router's address) and
 * nothing from the internet reaches an unmapped home. Skipped, with the reason, where network
 * namespaces cannot be made.
 */
import test from 'ava'
import { labUnavailable, lanLab, natLab, type LabHost } from '../helpers/netlab.ts'

/** Start a TCP server on `host` that answers every connection with the peer's address, then closes. */
async function echoAddress(host: LabHost, port: number): Promise<() => void> {
  const p = host.spawn('node', ['-e', `require('net').createServer((s) => s.end(s.remoteAddress)).listen(${port}, () => console.log('up'))`])
  await new Promise((resolve, reject) => {
    p.stdout?.once('data', resolve)
    p.once('exit', (code) => reject(new Error(`server on ${host.ns} exited ${code}`)))
  })
  return () => p.kill()
}

/** Connect from `from` to addr:port; the server's answer, or the error code. */
async function dial(from: LabHost, addr: string, port: number): Promise<string> {
  const js = `const s = require('net').connect(${port}, '${addr}'); let d = ''; s.on('data', (c) => (d += c)); s.on('end', () => console.log('ok ' + d)); s.on('error', (e) => console.log('error ' + e.code)); s.setTimeout(3000, () => { console.log('error timeout'); s.destroy() })`
  return (await from.exec('node', ['-e', js])).stdout.trim()
}

test('LAN lab: hosts reach each other on their own addresses', async (t) => {
  const why = await labUnavailable()
  if (why) return t.pass(`skipped: ${why}`)
  const lan = await lanLab(2)
  t.teardown(() => lan.down())
  const [a, b] = lan.hosts as [LabHost, LabHost]
  t.not(a.ip, b.ip)
  await echoAddress(a, 7000)
  t.is(await dial(b, a.ip, 7000), `ok ::ffff:${b.ip}`)
})

test('NAT lab: a home dials out as its router; the internet cannot dial an unmapped home', async (t) => {
  const why = await labUnavailable({ nat: true })
  if (why) return t.pass(`skipped: ${why}`)
  const lab = await natLab()
  t.teardown(() => lab.down())
  await echoAddress(lab.pub, 7000)
  const home2 = lab.homes[1] as LabHost
  t.is(await dial(home2, lab.pub.ip, 7000), `ok ::ffff:${(lab.routers[1] as LabHost).ip}`)
  await echoAddress(lab.homes[0] as LabHost, 7001)
  t.regex(await dial(lab.pub, (lab.routers[0] as LabHost).ip, 7001), /^error /)
  t.regex(await dial(lab.pub, '192.168.1.10', 7001), /^error /)
})
