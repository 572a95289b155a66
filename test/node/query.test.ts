/**
 * The search language (src/node/query.ts, PROTOCOL.md §4.2.1): folding, filters, comparisons,
 * ranking, and properties over random names and queries (fast-check).
 */
import test from 'ava'
import fc from 'fast-check'
import { fold, matches, parseDuration, parseQuery, parseSize, searchEntries, type Searchable } from '../../src/node/query.ts'

const lib: Searchable[] = [
  { name: 'Tacvba/Re/01 La Ingrata.ogg', size: 3_000_000, kind: 'audio', meta: { title: 'La Ingrata', artist: 'Café Tacvba', album: 'Re', genre: 'Rock', year: 1994, durationMs: 210_000 } },
  { name: 'Tacvba/Re/02 El Aparato.ogg', size: 4_000_000, kind: 'audio', meta: { title: 'El Aparato', artist: 'Café Tacvba', album: 'Re', genre: 'Rock', year: 1994, durationMs: 320_000 } },
  { name: 'misc/ingrata remix.ogg', size: 2_000_000, kind: 'audio', meta: { title: 'Ingrata (remix)', artist: 'DJ Otro', genre: 'Electronic', year: 2005, durationMs: 400_000 } },
  { name: 'films/Cafe\u0301 au lait.mp4', size: 2 * 1024 ** 3, kind: 'video', meta: { durationMs: 5_400_000, width: 1920, height: 1080 } },
  { name: 'photos/café.jpg', size: 900_000, kind: 'image' },
  { name: 'Track10.ogg', size: 1, kind: 'audio' },
  { name: 'Track2.ogg', size: 1, kind: 'audio' }
]
const names = (q: string, limit = 100): string[] => searchEntries(lib, q, limit).results.map((e) => e.name)

test('fold: case and accents go, NFC and NFD alike; compatibility forms too', (t) => {
  t.is(fold('Café'), 'cafe')
  t.is(fold('Cafe\u0301'), 'cafe')
  t.is(fold('ÅNGSTRÖM'), 'angstrom')
  t.is(fold('ﬁlm'), 'film', 'NFKD splits the ligature')
})

test('words match name, path and tags, accent-insensitively: cafe finds Café (tag) and Café (NFD name)', (t) => {
  t.deepEqual(names('cafe').sort(), ['Tacvba/Re/01 La Ingrata.ogg', 'Tacvba/Re/02 El Aparato.ogg', 'films/Cafe\u0301 au lait.mp4', 'photos/café.jpg'].sort())
  t.deepEqual(names('CAFÉ aparato'), ['Tacvba/Re/02 El Aparato.ogg'])
  t.deepEqual(names('photos'), ['photos/café.jpg'], 'the folder part of the name counts')
  t.deepEqual(names('rock -aparato'), ['Tacvba/Re/01 La Ingrata.ogg'], '-word excludes')
})

test('field filters: artist, album, title, genre, year, kind', (t) => {
  t.deepEqual(names('artist:tacvba'), ['Tacvba/Re/01 La Ingrata.ogg', 'Tacvba/Re/02 El Aparato.ogg'])
  t.deepEqual(names('artist:"cafe tacvba" ingrata'), ['Tacvba/Re/01 La Ingrata.ogg'])
  t.deepEqual(names('album:re title:aparato'), ['Tacvba/Re/02 El Aparato.ogg'])
  t.deepEqual(names('genre:electronic'), ['misc/ingrata remix.ogg'])
  t.deepEqual(names('year:2005'), ['misc/ingrata remix.ogg'])
  t.deepEqual(names('year<2000 ingrata'), ['Tacvba/Re/01 La Ingrata.ogg'])
  t.deepEqual(names('kind:video'), ['films/Cafe\u0301 au lait.mp4'])
  t.deepEqual(names('kind:image cafe'), ['photos/café.jpg'])
  t.deepEqual(names('artist:nobody'), [])
})

test('comparisons: dur>10m, dur<4m, size<1G, size>=2g; units', (t) => {
  t.deepEqual(names('dur>10m'), ['films/Cafe\u0301 au lait.mp4'])
  t.deepEqual(names('dur<4m'), ['Tacvba/Re/01 La Ingrata.ogg'])
  t.deepEqual(names('dur>=5:20 dur<=6:40 kind:audio'), ['misc/ingrata remix.ogg', 'Tacvba/Re/02 El Aparato.ogg'], 'equal ranks: natural name order')
  t.deepEqual(names('size>=2g'), ['films/Cafe\u0301 au lait.mp4'])
  t.is(names('size<1G').length, lib.length - 1)
  t.is(parseSize('1.5M'), 1.5 * 1024 ** 2)
  t.is(parseDuration('1:02:03'), 3_723_000)
  t.is(parseDuration('90'), 90_000)
  t.true(Number.isNaN(parseSize('lots')))
  t.deepEqual(parseQuery('dur>soon').words, ['dur>soon'], 'an unreadable comparison is a plain word')
  t.deepEqual(parseQuery('re:zero').words, ['re:zero'], 'an unknown field is a plain word')
})

test('ranking: exact title first, then artist, then the rest; natural name order breaks ties', (t) => {
  t.deepEqual(names('ingrata').slice(0, 2).sort(), ['Tacvba/Re/01 La Ingrata.ogg', 'misc/ingrata remix.ogg'].sort(), 'word in title and file name')
  t.deepEqual(names('la ingrata')[0], 'Tacvba/Re/01 La Ingrata.ogg', 'exact title')
  t.deepEqual(names('ingrata remix')[0], 'misc/ingrata remix.ogg')
  const extra: Searchable[] = [...lib, { name: 'x/cafe tacvba live.ogg', size: 1, kind: 'audio', meta: { title: 'Live', artist: 'Someone' } }]
  t.is(searchEntries(extra, 'café tacvba', 10).results[0]!.meta?.artist, 'Café Tacvba', 'exact artist before a name that contains the words')
  t.deepEqual(names('track'), ['Track2.ogg', 'Track10.ogg'], 'track2 before track10')
})

test('the cap: results cut at the limit say how many matched', (t) => {
  const r = searchEntries(lib, 'ogg', 2)
  t.is(r.results.length, 2)
  t.is(r.total, 5)
  t.deepEqual(searchEntries(lib, '   ', 10), { results: [], total: 0 }, 'an empty query finds nothing')
})

const word = fc.stringMatching(/^[a-zA-Z0-9éüñçÅ]{1,8}$/)

test('property: a name found by the legacy substring rule is found by the new search (words only)', (t) => {
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 5 }), fc.array(word, { minLength: 1, maxLength: 3 }), (nameWords, qWords) => {
      const e: Searchable = { name: nameWords.join(' ') + '.ogg', size: 1, kind: 'audio' }
      const q = qWords.join(' ')
      const legacy = q
        .toLowerCase()
        .split(/\s+/)
        .every((w) => e.name.toLowerCase().includes(w))
      if (legacy) t.true(matches(parseQuery(q), e), `${q} in ${e.name}`)
      // NFC and NFD spellings of the same name and query match alike.
      const nfd: Searchable = { ...e, name: e.name.normalize('NFD') }
      t.is(matches(parseQuery(q.normalize('NFC')), e), matches(parseQuery(q.normalize('NFD')), nfd))
    })
  )
})

test('property: parseQuery never throws, and searchEntries returns at most limit results, ranked by score', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.integer({ min: 0, max: 10 }), (q, limit) => {
      const r = searchEntries(lib, q, limit)
      t.true(r.results.length <= limit && r.total >= r.results.length)
    })
  )
})
