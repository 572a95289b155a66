/**
 * Who may use the web server and what one client may hold (issue #11 items 1 and 11;
 * docs/SECURITY.md "Web page"): loopback by default, a login on any other bind, loopback only
 * and a login with a private group, DNS rebinding and cross-site requests refused; stalled
 * readers cut off, media responses capped per client and in all, downloads refused when the disk
 * would fill.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { handlesClosed, openHandlesOn, SMALL_CLIP, shareWith, spawnCli, startNode, tempDir } from '../helpers/nodes.ts'
import { makeGroup } from '../group/helpers.ts'
import { raw, startWeb, webSearch } from './helpers.ts'
import type { WebServer } from '../../src/web/http-server.ts'

/** A GET on a raw socket that reads the first bytes of the answer, then stops reading. */
function stalledGet(web: WebServer, url: string, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: web.port, localAddress }, () => socket.write(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\n\r\n`))
    socket.once('data', (d: Buffer) => {
      socket.pause() // never read again: the kernel buffers fill, the server's writes stall
      resolve({ socket, head: d.subarray(0, 200).toString('latin1') })
    })
    socket.once('error', reject)
  })
}

/** A share holding one `mb` MB video file of zeros (more than loopback's socket buffers hold). */
async function bigShare(t: Parameters<typeof tempDir>[0], mb: number): Promise<string> {
  const dir = await tempDir(t, 'p2ptube-share')
  await fs.writeFile(path.join(dir, 'big.mp4'), Buffer.alloc(mb * 1024 * 1024))
  return dir
}

test('a LAN bind needs the login: every route 401 without the cookie, wrong tokens 401 then 429, the login link sets a cookie that works', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP])] })
  const web = await startWeb(t, node, {}, '0.0.0.0')
  const cid = node.library.entries()[0]!.cid as string
  t.regex(web.token ?? '', /^[A-Za-z0-9_-]{43}$/, 'a random token is made for a LAN bind')
  for (const p of ['/api/library', `/media/${cid}`, '/api/search?q=x', `/stream/${cid}?holder=127.0.0.1:9`]) {
    const r = await raw(web, p)
    t.is(r.status, 401, p)
    t.false(r.body.toString().includes(SMALL_CLIP), p)
  }
  const page = await raw(web, '/')
  t.is(page.status, 401)
  t.regex(page.body.toString(), /<form method="get" action="\/login">/)
  t.false(page.body.toString().includes(SMALL_CLIP), 'the login page lists nothing')
  // Wrong tokens: 401 five times, then the address must wait.
  for (let i = 0; i < 5; i++) t.is((await raw(web, '/login?token=guess' + i)).status, 401)
  t.is((await raw(web, `/login?token=${web.token}`)).status, 429, 'even the right token waits after 5 failures')

  const web2 = await startWeb(t, node, {}, '0.0.0.0')
  const login = await raw(web2, `/login?token=${web2.token}`)
  t.is(login.status, 303)
  t.is(login.headers.location, '/')
  const setCookie = String(login.headers['set-cookie'])
  t.regex(setCookie, /HttpOnly; SameSite=Strict/)
  const cookie = setCookie.split(';')[0]!
  t.is((await raw(web2, '/api/library', { headers: { Cookie: cookie } })).status, 200)
  t.true((await raw(web2, '/', { headers: { Cookie: cookie } })).body.toString().includes(SMALL_CLIP))
  t.is((await raw(web2, `/media/${cid}`, { headers: { Cookie: cookie, Range: 'bytes=0-9' } })).status, 206)
  t.is((await raw(web2, '/api/library', { headers: { Cookie: 'p2ptube_web=forged' } })).status, 401)
  t.is((await raw(web, '/api/library', { headers: { Cookie: cookie } })).status, 401, "another server's session is no session here")
})

test('DNS rebinding and cross-site requests are refused on loopback too (no login there)', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP])] })
  const web = await startWeb(t, node)
  t.is(web.token, undefined, 'loopback without a group: no login')
  t.is((await raw(web, '/api/library')).status, 200)
  const rebound = await raw(web, '/api/library', { headers: { Host: `evil.example:${web.port}` } })
  t.is(rebound.status, 403)
  t.regex(rebound.body.toString(), /DNS rebinding/)
  t.is((await raw(web, '/api/library', { headers: { Host: `localhost:${web.port}` } })).status, 200)
  t.is((await raw(web, '/api/library', { headers: { Host: `[::1]:${web.port}` } })).status, 200)
  t.is((await raw(web, '/api/search?q=clip', { headers: { 'Sec-Fetch-Site': 'cross-site' } })).status, 403, 'a foreign page cannot start a search')
  t.is((await raw(web, '/api/library', { headers: { Origin: 'http://evil.example' } })).status, 403)
  t.is((await raw(web, '/api/library', { headers: { Origin: `http://127.0.0.1:${web.port}`, 'Sec-Fetch-Site': 'same-origin' } })).status, 200)
})

test('node --http serves on loopback by default; with --group a LAN --http-host exits 2 and the loopback page needs the login', async (t) => {
  const plain = spawnCli(t, ['node', '--json', '--data', await tempDir(t), '--http', '0'])
  const ev = await plain.next('http')
  t.is(ev.host, '127.0.0.1')
  t.is(ev.login, false)
  plain.send({ cmd: 'quit' })
  t.is(await plain.exited, 0)

  const g = await makeGroup(t, { alice: true })
  const file = g.creds.alice!.file as string
  const lan = spawnCli(t, ['node', '--json', '--data', await tempDir(t), '--group', file, '--http', '0', '--http-host', '0.0.0.0'])
  t.is(await lan.exited, 2)
  t.regex(lan.stderr() + JSON.stringify(lan.events), /this machine only/)

  const share = await shareWith(t, [SMALL_CLIP])
  const p = spawnCli(t, ['node', '--json', '--data', await tempDir(t), '--group', file, '--share', share, '--http', '0'])
  const hev = await p.next('http')
  t.is(hev.host, '127.0.0.1')
  t.is(hev.login, true)
  const url = String(hev.url)
  const refused = await fetch(`${url}/api/library`)
  t.is(refused.status, 401, 'a browser without the token gets nothing from a group node')
  t.false((await refused.text()).includes(SMALL_CLIP))
  const [loginUrl] = hev.urls as string[]
  t.is(loginUrl, `${url}/login?token=${String(hev.token)}`)
  const login = await fetch(loginUrl!, { redirect: 'manual' })
  t.is(login.status, 303)
  const cookie = String(login.headers.get('set-cookie')).split(';')[0]!
  await p.next('indexed')
  const lib = (await (await fetch(`${url}/api/library`, { headers: { Cookie: cookie } })).json()) as { files: Array<{ name: string }> }
  t.deepEqual(
    lib.files.map((f) => f.name),
    [SMALL_CLIP]
  )
  p.send({ cmd: 'quit' })
  t.is(await p.exited, 0)
})

test('stalled readers are cut off after stallMs: 30 clients that stop reading hold no file handle, and the server keeps serving', async (t) => {
  const node = await startNode(t, { shares: [await bigShare(t, 48)] })
  const web = await startWeb(t, node, { stallMs: 300, maxStreamsPerClient: 100 })
  const [e] = node.library.entries()
  const clients = await Promise.all(Array.from({ length: 30 }, () => stalledGet(web, `/media/${e!.cid}`)))
  t.teardown(() => clients.forEach((c) => c.socket.destroy()))
  t.true(
    clients.every((c) => c.head.startsWith('HTTP/1.1 200')),
    clients.map((c) => c.head.slice(0, 20)).join()
  )
  t.is(await handlesClosed(e!.path, 20_000), 0, 'every handle closed while the clients are still connected and silent')
  t.true(
    clients.every((c) => !c.socket.destroyed),
    'the clients never went away themselves'
  )
  const again = await raw(web, `/media/${e!.cid}`, { headers: { Range: 'bytes=0-99' } })
  t.is(again.status, 206)
})

test('media responses are capped per client address and in all (503), and a slot comes back when its reader goes', async (t) => {
  const node = await startNode(t, { shares: [await bigShare(t, 48)] })
  const web = await startWeb(t, node, { maxStreamsPerClient: 2, maxStreams: 3 })
  const [e] = node.library.entries()
  const url = `/media/${e!.cid}`
  const a1 = await stalledGet(web, url)
  const a2 = await stalledGet(web, url)
  t.teardown(() => [a1, a2].forEach((c) => c.socket.destroy()))
  t.regex(a1.head, /^HTTP\/1\.1 200/)
  t.regex(a2.head, /^HTTP\/1\.1 200/)
  const a3 = await raw(web, url, { headers: { Range: 'bytes=0-9' } })
  t.is(a3.status, 503, 'a third response for the same client')
  t.regex(a3.body.toString(), /too many media responses/)
  const b1 = await stalledGet(web, url, '127.0.0.2')
  t.teardown(() => b1.socket.destroy())
  t.regex(b1.head, /^HTTP\/1\.1 200/, 'another client still gets one')
  const b2 = await stalledGet(web, url, '127.0.0.2')
  b2.socket.destroy()
  t.regex(b2.head, /^HTTP\/1\.1 503/, 'the server is at its total of 3')
  t.is(await openHandlesOn(e!.path), 3)
  a1.socket.destroy()
  // The slot is given back once the server sees the close; retry until then (bounded).
  let status = 503
  for (let i = 0; i < 100 && status === 503; i++) {
    status = (await raw(web, url, { headers: { Range: 'bytes=0-9' } })).status
    if (status === 503) await new Promise((r) => setTimeout(r, 20))
  }
  t.is(status, 206)
})

test('/stream refuses a download that would not leave minFreeBytes free (507), and starts nothing', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [[SMALL_CLIP, 'remote clip.mp4']])] })
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const web = await startWeb(t, viewer, { minFreeBytes: 1e18 })
  const r = (await webSearch(web, 'remote clip')).find((l) => l.type === 'result')
  t.truthy(r)
  const res = await raw(web, (r as { url: string }).url)
  t.is(res.status, 507)
  t.regex(res.body.toString(), /not enough disk space/)
  t.is(viewer.downloads.size, 0, 'no download was started')
  const head = await raw(web, (r as { url: string }).url, { method: 'HEAD' })
  t.is(head.status, 200, 'HEAD starts nothing and needs no space')
})
