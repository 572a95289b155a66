import test from 'ava'
import { Dispatcher, displayKey, footerLines, footerPages, footerText, helpLines, indexKeys, KEYMAP, type Action } from '../../src/tui/keys.ts'

test('every key is bound to one action, and the issue keys are there', (t) => {
  const idx = indexKeys()
  const want: Record<string, Action> = {
    a: 'add',
    s: 'search',
    enter: 'activate',
    f: 'fetch',
    'S-p': 'playAll',
    '/': 'filter',
    c: 'addPeer',
    'S-c': 'clear',
    'S-o': 'sort',
    'S-b': 'browse',
    backspace: 'back',
    home: 'home',
    end: 'end',
    'S-s': 'stop',
    '>': 'next',
    '-': 'volumeDown',
    '+': 'volumeUp',
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

test('footer: every labelled key shows at 80 columns on two lines (the second rotates), help and quit first', (t) => {
  const f80 = footerText(80)
  t.true(f80.length <= 80)
  t.true(f80.startsWith('?:help q:quit a:add s:search /:filter Enter:act'))
  const pages = footerPages(80)
  t.true(pages >= 2, 'at 80 columns the second line rotates')
  const shown = new Set<string>()
  for (let p = 0; p < pages; p++) {
    const lines = footerLines(80, 2, p)
    t.is(lines.length, 2)
    for (const l of lines) t.true(l.length <= 80, l)
    t.is(lines[0], f80, 'the first line stays')
    for (const l of lines) for (const part of l.split(' ')) shown.add(part)
  }
  for (const b of Object.values(KEYMAP)) if (b.footer) t.true(shown.has(`${displayKey(b.keys[0]!)}:${b.footer}`), `${b.footer} shows on some page`)
  for (const k of ['Space:pause', 'S:stop', '>:next', '-/+:vol', 'Left/Right:seek', 'P:all', 'c:+peer', 'C:clear', 'O:sort', 'B:browse']) t.true(shown.has(k), k)
  t.is(footerPages(200), 1, 'a wide screen shows everything at once')
})

test('help lines fit 80 columns and cover every action', (t) => {
  const lines = helpLines()
  for (const l of lines) t.true(l.length <= 76, l)
  t.true(lines.some((l) => l.startsWith('Space Left Right')))
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
