/** Bad input is logged with a limit (issue #11, low): a flood costs a few lines and a count. */
import test from 'ava'
import { LogLimiter } from '../../src/net/log-limiter.ts'
import { rawExchange } from '../helpers/raw.ts'
import { startNode } from '../helpers/nodes.ts'

test('LogLimiter: 20 lines per window, then one line with the suppressed count', (t) => {
  let now = 0
  const out: string[] = []
  const l = new LogLimiter(
    (_level, msg) => out.push(msg),
    'bad input',
    20,
    10_000,
    () => now
  )
  for (let i = 0; i < 1000; i++) l.log(`line ${i}`)
  t.is(out.length, 20)
  t.is(l.pending, 980)
  now = 10_000
  l.log('next window')
  t.deepEqual(out.slice(20), ['980 more bad input line(s) suppressed (at most 20 per 10 s)', 'next window'])
  l.summary()
  t.is(out.length, 22, 'nothing pending: no summary line')
})

test('a node fed 300 garbage connections logs at most 20 bad-input lines and counts every one', async (t) => {
  const node = await startNode(t)
  const warns: string[] = []
  node.on('log', (l: { level: string; msg: string }) => l.level === 'warn' && warns.push(l.msg))
  const t0 = Date.now()
  for (let batch = 0; batch < 10; batch++)
    await Promise.all(Array.from({ length: 30 }, () => rawExchange(node.port, Buffer.from('\u0001\u0002\u0003\u0004\u0000\u0000\u0000\u0000'), { end: true, timeoutMs: 10_000 })))
  t.is(node.stats.badInput, 300)
  const bad = warns.filter((w) => w.startsWith('bad input from'))
  // 20 per 10 s window (one window unless the machine is very slow).
  const windows = Math.ceil((Date.now() - t0 + 1) / 10_000)
  t.true(bad.length >= 20 && bad.length <= 20 * windows, `${bad.length} lines for 300 bad frames in ${windows} window(s)`)
  await node.stop()
  const suppressed = warns.filter((w) => /^\d+ more bad input line\(s\) suppressed/.test(w)).reduce((n, w) => n + Number(w.split(' ')[0]), 0)
  t.is(bad.length + suppressed, 300, 'every bad input is either logged or counted in a summary')
})
