import test from 'ava'
import { Dispatcher, footerText, helpLines, indexKeys, KEYMAP, type Action } from '../../src/tui/keys.ts'

test('every key is bound to one action, and the issue keys are there', (t) => {
  const idx = indexKeys()
  const want: Record<string, Action> = {
    a: 'add',
    s: 'search',
    enter: 'fetch',
    f: 'fetch',
    p: 'play',
    r: 'refresh',
    b: 'rebuild',
    d: 'removePeer',
    x: 'cancel',
    tab: 'nextPane',
    space: 'togglePause',
    left: 'seekBack',
    right: 'seekForward',
    q: 'quit',
    'C-c': 'quit',
    '?': 'help'
  }
  for (const [k, a] of Object.entries(want)) t.is(idx.get(k), a, k)
  t.throws(() => indexKeys({ ...KEYMAP, help: { keys: ['q'] } }), { message: /bound to both/ })
})

test('footer fits the width and always starts with help and quit', (t) => {
  const f80 = footerText(80)
  t.true(f80.length <= 80)
  t.true(f80.startsWith('? help  q quit  a add  s search  Enter fetch'))
  t.true(footerText(200).includes('Space pause'))
  t.true(footerText(200).includes('Left/Right seek'))
})

test('help lines fit 80 columns and cover every action', (t) => {
  const lines = helpLines()
  for (const l of lines) t.true(l.length <= 76, l)
  t.true(lines.some((l) => l.startsWith('Left / Right')))
  t.true(lines.length <= 18, 'help fits a 24-line screen')
})

test('the dispatcher runs the bound handler, reports async failures, and ignores unbound keys', async (t) => {
  const ran: string[] = []
  const errors: string[] = []
  const d = new Dispatcher(
    {
      add: () => void ran.push('add'),
      quit: async () => {
        throw new Error('boom')
      }
    },
    (a, e) => errors.push(`${a}: ${(e as Error).message}`)
  )
  t.is(d.dispatch('a'), 'add')
  t.is(d.dispatch('C-c'), 'quit')
  t.is(d.dispatch('Z'), undefined)
  t.is(d.dispatch('r'), 'refresh', 'bound without a handler: still an action')
  await new Promise((r) => setImmediate(r))
  t.deepEqual(ran, ['add'])
  t.deepEqual(errors, ['quit: boom'])
})
