/**
 * The dialling seam (src/net/route.ts, net/client.ts `exchange`): a direct dial that fails before
 * a TCP connection exists falls back to the routes in order, the route that worked is remembered
 * and tried first next time, a peer that answers (even ERRO) is never routed around, and every
 * route failing gives the direct dial's error with each route's reason. Real sockets on loopback.
 */
import test from 'ava'
import net from 'node:net'
import { exchange, request, requestText } from '../../src/net/client.ts'
import { isDialFailure, RouteCache, RoutedTransport, type Route } from '../../src/net/route.ts'
import { FrameServer } from '../../src/net/server.ts'
import { plainTransport } from '../../src/net/transport.ts'
import { P2PTubeError, RemoteError } from '../../src/protocol/errors.ts'

/** A server answering NAME with "server", and a closed port (refused at once). */
async function setup(): Promise<{ server: FrameServer; port: number; closed: number }> {
  const server = new FrameServer({
    handlers: new Map([
      ['NAME', (ctx) => ctx.reply('server')],
      ['QUIT', (ctx) => ctx.error('ERR_PEER_NOT_FOUND', 'no such peer')]
    ])
  })
  const port = await server.listen(0, '127.0.0.1')
  const probe = net.createServer()
  const closed = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)))
  await new Promise((resolve) => probe.close(resolve))
  return { server, port, closed }
}

/** A route that connects to `port` and counts its uses. */
function routeTo(port: number, name: Route['name'] = 'relay'): Route & { used: number } {
  const r = {
    name,
    used: 0,
    open(): Promise<net.Socket> {
      r.used++
      return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s))
        s.once('error', reject)
      })
    }
  }
  return r
}

const failing = (name: Route['name'], why: string): Route & { used: number } => {
  const r = {
    name,
    used: 0,
    open(): Promise<net.Socket> {
      r.used++
      return Promise.reject(new P2PTubeError('ERR_NO_ROUTE', why))
    }
  }
  return r
}

test('a refused dial falls back to the routes in order; the one that worked is remembered and used first', async (t) => {
  const { server, port, closed } = await setup()
  t.teardown(() => server.close())
  const cache = new RouteCache()
  const punch = failing('punch', 'no tracker')
  const relay = routeTo(port)
  const to = { host: '127.0.0.1', port: closed }
  t.is(await requestText(to, 'NAME', '', { routes: [punch, relay], routeCache: cache }), 'server')
  t.is(punch.used, 1)
  t.is(relay.used, 1)
  t.is(cache.get(`127.0.0.1:${closed}`), 'relay')
  // Next time: straight to the remembered route, the failing one is not asked.
  t.is(await requestText(to, 'NAME', '', { routes: [punch, relay], routeCache: cache }), 'server')
  t.is(punch.used, 1)
  t.is(relay.used, 2)
  t.deepEqual(cache.list(), [{ peer: `127.0.0.1:${closed}`, via: 'relay' }])
})

test('a RoutedTransport carries its routes to every exchange over it; plain transport otherwise unchanged', async (t) => {
  const { server, port, closed } = await setup()
  t.teardown(() => server.close())
  const relay = routeTo(port)
  const transport = new RoutedTransport(plainTransport, [relay], new RouteCache())
  const frames = await request({ host: '127.0.0.1', port: closed }, 'NAME', '', { transport })
  t.is(frames[0]?.payload.toString(), 'server')
  t.is(relay.used, 1)
  t.is(transport.routeCache.get(`127.0.0.1:${closed}`), 'relay')
  // Direct still works first for a dialable peer: the route is not used.
  t.is(await requestText({ host: '127.0.0.1', port }, 'NAME', '', { transport }), 'server')
  t.is(relay.used, 1)
})

test('a peer that was reached is never routed around: ERRO is the answer', async (t) => {
  const { server, port } = await setup()
  t.teardown(() => server.close())
  const relay = routeTo(port)
  const err = await t.throwsAsync(requestText({ host: '127.0.0.1', port }, 'QUIT', 'x', { routes: [relay] }))
  t.true(err instanceof RemoteError)
  t.is(relay.used, 0)
})

test('every route failing: the direct dial error (ERR_CONNECT, a dial failure) with each route reason', async (t) => {
  const { server, closed } = await setup()
  t.teardown(() => server.close())
  const err = await t.throwsAsync(
    exchange({ host: '127.0.0.1', port: closed }, 'NAME', '', { policy: () => undefined, frame() {} }, { routes: [failing('reversal', 'no tracker'), failing('punch', 'not here')] })
  )
  t.is((err as P2PTubeError).code, 'ERR_CONNECT')
  t.regex(err?.message ?? '', /ECONNREFUSED; reversal: no tracker; punch: not here/)
  t.true(isDialFailure((err as Error & { cause?: unknown }).cause))
})

test('RouteCache entries expire', (t) => {
  let now = 0
  const c = new RouteCache(1000, () => now)
  c.set('a:1', 'reversal')
  t.is(c.get('a:1'), 'reversal')
  now = 1000
  t.is(c.get('a:1'), undefined)
})
