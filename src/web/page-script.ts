/**
 * The script of the web page (page.ts), run in the browser. Every text from a file or a peer
 * (names, tags, holders) reaches the page through textContent or dataset, never innerHTML, so
 * nothing a peer chooses can become markup. Views: the library table (server-rendered), a
 * music browser (artist → album → track), video folders with poster frames, a photo grid whose
 * photos open full size, network search results; one player with a play queue (an album or a
 * result list plays in order; 'ended' starts the next; the next audio track is fetched ahead).
 * The library comes embedded as JSON (#library-data: `[{ n: name, k: kind, s: size, c: content
 * id, m?: tags, p?: 1 when it may have a picture }]`).
 */
export const PAGE_SCRIPT = `
const $ = (id) => document.getElementById(id)
const players = { video: $('video'), audio: $('audio'), image: $('image') }
const LIB = JSON.parse($('library-data').textContent)
function fmt(n) {
  if (n === null || n === undefined) return '?'
  if (n < 1000) return n + ' B'
  const u = ['kB', 'MB', 'GB', 'TB']; let v = n, i = -1
  do { v /= 1000; i++ } while (v >= 1000 && i < u.length - 1)
  return v.toFixed(v < 10 ? 1 : 0) + ' ' + u[i]
}
function clock(ms) {
  if (!ms && ms !== 0) return ''
  const s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = String(s % 60).padStart(2, '0')
  return h ? h + ':' + String(m).padStart(2, '0') + ':' + r : m + ':' + r
}
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e }
function thumb(f, cls) {
  const img = el('img', cls || 'thumb')
  img.alt = ''; img.loading = 'lazy'; img.decoding = 'async'
  img.addEventListener('error', () => img.classList.add('none'), { once: true })
  if (f && f.p) img.src = '/picture/' + f.c
  else img.classList.add('none')
  return img
}
// Server-rendered thumbnails of files without a picture (404) leave no broken-image mark.
for (const img of document.querySelectorAll('#library img.thumb')) {
  if (img.complete && !img.naturalWidth) img.classList.add('none')
  else img.addEventListener('error', () => img.classList.add('none'), { once: true })
}
const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare
const itemOf = (f) => ({ src: '/media/' + f.c, kind: f.k, name: f.m && f.m.title ? f.m.title : f.n, cid: f.c, meta: f.m })

// The player and its queue.
let queue = [], at = -1, ahead = null
function stopOthers(kind) {
  for (const [k, e] of Object.entries(players)) {
    if (k !== kind && !e.hidden) { if (e.pause) e.pause(); e.removeAttribute('src'); if (e.load) e.load(); e.hidden = true }
  }
}
function showQueue() {
  const ol = $('queue'); ol.replaceChildren()
  queue.forEach((q, i) => {
    const li = el('li', i === at ? 'current' : '')
    const b = el('button', 'link', q.name); b.dataset.at = String(i)
    li.appendChild(b); ol.appendChild(li)
  })
  $('queue-box').hidden = queue.length < 2
  $('prev').disabled = at <= 0; $('next').disabled = at >= queue.length - 1
}
function playAt(i) {
  const q = queue[i]
  if (!q) return
  at = i
  stopOthers(q.kind)
  const e = players[q.kind] || players.video
  const m = q.meta || {}
  $('now').textContent = q.name
  $('now-info').textContent = [m.artist, m.album, clock(m.durationMs)].filter(Boolean).join(' · ')
  $('player').hidden = false
  e.hidden = false
  e.src = q.src
  if (e.play) e.play().catch((err) => { $('now').textContent = q.name + ' (' + err.message + ')' })
  showQueue()
  // The next audio track is fetched ahead, so it starts without a gap.
  const next = queue[i + 1]
  ahead = null
  if (next && next.kind === 'audio') { ahead = new Audio(); ahead.preload = 'auto'; ahead.src = next.src }
}
function playList(items, from) { queue = items.filter((q) => q.src); if (queue.length) playAt(from || 0) }
for (const e of [players.video, players.audio]) e.addEventListener('ended', () => { if (at < queue.length - 1) playAt(at + 1) })
$('prev').addEventListener('click', () => playAt(at - 1))
$('next').addEventListener('click', () => playAt(at + 1))
$('queue').addEventListener('click', (ev) => { const b = ev.target.closest('button[data-at]'); if (b) playAt(Number(b.dataset.at)) })

// Full-size photo viewer.
function viewPhoto(f) {
  const v = $('viewer'), img = $('viewer-img')
  img.src = '/media/' + f.c; $('viewer-name').textContent = f.n
  const m = f.m || {}
  $('viewer-info').textContent = [m.width && m.height ? m.width + '×' + m.height : '', m.taken ? m.taken.replace('T', ' ') : '', fmt(f.s)].filter(Boolean).join(' · ')
  v.hidden = false; $('viewer-close').focus()
}
$('viewer-close').addEventListener('click', () => { $('viewer').hidden = true; $('viewer-img').removeAttribute('src') })
document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !$('viewer').hidden) $('viewer-close').click() })

document.addEventListener('click', (ev) => {
  const b = ev.target.closest && ev.target.closest('button.play')
  if (b) playList([{ src: b.dataset.src, kind: b.dataset.kind, name: b.dataset.name }])
})

// Tabs.
function show(view) {
  for (const t of document.querySelectorAll('nav button')) t.setAttribute('aria-selected', String(t.dataset.view === view))
  for (const s of document.querySelectorAll('main > section.view')) s.hidden = s.id !== view
}
document.querySelector('nav').addEventListener('click', (ev) => { const b = ev.target.closest('button[data-view]'); if (b) show(b.dataset.view) })

// Music: artist -> album -> track.
const music = LIB.filter((f) => f.k === 'audio' && f.c)
const artists = new Map()
for (const f of music) {
  const m = f.m || {}
  const artist = m.albumArtist || m.artist || 'Unknown artist'
  const album = m.album || (f.n.includes('/') ? f.n.slice(0, f.n.lastIndexOf('/')) : 'Singles')
  if (!artists.has(artist)) artists.set(artist, new Map())
  const albums = artists.get(artist)
  if (!albums.has(album)) albums.set(album, [])
  albums.get(album).push(f)
}
const trackOrder = (a, b) => ((a.m && a.m.disc) || 0) - ((b.m && b.m.disc) || 0) || ((a.m && a.m.track) || 0) - ((b.m && b.m.track) || 0) || natural(a.n, b.n)
function musicHome() {
  const box = $('music-list'); box.replaceChildren(); $('music-path').textContent = 'Artists'
  for (const name of [...artists.keys()].sort(natural)) {
    const b = el('button', 'card artist'); b.dataset.artist = name
    const n = [...artists.get(name).values()].reduce((s, t) => s + t.length, 0)
    b.append(el('span', 'title', name), el('span', 'muted', artists.get(name).size + ' album' + (artists.get(name).size === 1 ? '' : 's') + ', ' + n + ' track' + (n === 1 ? '' : 's')))
    box.appendChild(b)
  }
  if (!artists.size) box.appendChild(el('p', 'muted', 'no music shared'))
}
function showArtist(name) {
  const box = $('music-list'); box.replaceChildren(); $('music-path').textContent = name
  box.appendChild(backButton(musicHome))
  for (const [album, tracks] of [...artists.get(name)].sort((a, b) => natural(a[0], b[0]))) {
    tracks.sort(trackOrder)
    const b = el('button', 'card album'); b.dataset.artist = name; b.dataset.album = album
    const year = tracks.find((t) => t.m && t.m.year)
    b.append(thumb(tracks.find((x) => x.p) || tracks[0], 'cover'), el('span', 'title', album), el('span', 'muted', [year ? year.m.year : '', tracks.length + ' track' + (tracks.length === 1 ? '' : 's')].filter(Boolean).join(' · ')))
    box.appendChild(b)
  }
}
function showAlbum(artist, album) {
  const tracks = artists.get(artist).get(album).slice().sort(trackOrder)
  const box = $('music-list'); box.replaceChildren(); $('music-path').textContent = artist + ' — ' + album
  box.appendChild(backButton(() => showArtist(artist)))
  const head = el('div', 'album-head')
  const all = el('button', 'play-album', 'Play album'); all.addEventListener('click', () => playList(tracks.map(itemOf)))
  head.append(thumb(tracks.find((x) => x.p) || tracks[0], 'cover big'), all)
  box.appendChild(head)
  const ol = el('ol', 'tracks')
  tracks.forEach((f, i) => {
    const li = el('li'); const b = el('button', 'link track', (f.m && f.m.title) || f.n.slice(f.n.lastIndexOf('/') + 1))
    b.addEventListener('click', () => playList(tracks.map(itemOf), i))
    li.append(b, el('span', 'muted dur', clock(f.m && f.m.durationMs)))
    ol.appendChild(li)
  })
  box.appendChild(ol)
}
function backButton(fn) { const b = el('button', 'back', '← back'); b.addEventListener('click', fn); return b }
$('music-list').addEventListener('click', (ev) => {
  const b = ev.target.closest('button.card')
  if (!b) return
  if (b.dataset.album !== undefined) showAlbum(b.dataset.artist, b.dataset.album)
  else showArtist(b.dataset.artist)
})
musicHome()

// Videos by folder, with posters.
function grid(box, files, onOpen, label) {
  for (const f of files) {
    const b = el('button', 'tile'); b.title = f.n
    const m = f.m || {}
    b.append(thumb(f), el('span', 'title', label(f)), el('span', 'muted', [clock(m.durationMs), m.width && m.height ? m.width + '×' + m.height : ''].filter(Boolean).join(' · ')))
    b.addEventListener('click', () => onOpen(f))
    box.appendChild(b)
  }
}
const videos = LIB.filter((f) => f.k === 'video' && f.c).sort((a, b) => natural(a.n, b.n))
const folders = new Map()
for (const f of videos) { const d = f.n.includes('/') ? f.n.slice(0, f.n.lastIndexOf('/')) : ''; if (!folders.has(d)) folders.set(d, []); folders.get(d).push(f) }
for (const [d, files] of folders) {
  const sec = el('section', 'folder'); sec.appendChild(el('h3', '', d || 'Top folder'))
  const g = el('div', 'grid'); grid(g, files, (f) => playList(files.map(itemOf), files.indexOf(f)), (f) => (f.m && f.m.title) || f.n.slice(f.n.lastIndexOf('/') + 1))
  sec.appendChild(g); $('video-list').appendChild(sec)
}
if (!videos.length) $('video-list').appendChild(el('p', 'muted', 'no videos shared'))

// Photos: a grid, newest first when dated; a click opens the photo full size.
const photos = LIB.filter((f) => f.k === 'image' && f.c).sort((a, b) => ((b.m && b.m.taken) || '').localeCompare((a.m && a.m.taken) || '') || natural(a.n, b.n))
grid($('photo-grid'), photos, viewPhoto, (f) => f.n.slice(f.n.lastIndexOf('/') + 1))
if (!photos.length) $('photo-grid').appendChild(el('p', 'muted', 'no photos shared'))

// Search the network.
let found = []
function addResult(r) {
  const tr = document.createElement('tr')
  tr.dataset.cid = r.contentId || ''
  const m = r.meta || {}
  const cell = (text, cls) => { const td = el('td', cls, text); tr.appendChild(td); return td }
  cell(r.name, 'name'); cell([m.artist, m.album].filter(Boolean).join(' — '), 'info'); cell(clock(m.durationMs), 'dur'); cell(fmt(r.size), 'size'); cell(r.holder, 'muted holder')
  const td = cell('')
  if (r.url) {
    const b = el('button', 'play', r.kind === 'image' ? 'View' : 'Play')
    b.dataset.src = r.url; b.dataset.kind = r.kind || 'video'; b.dataset.name = r.name
    td.appendChild(b)
    found.push({ src: r.url, kind: r.kind || 'video', name: m.title || r.name, meta: m })
  } else td.textContent = 'not streamable'
  $('results').appendChild(tr)
  $('play-results').hidden = !found.some((q) => q.kind !== 'image')
}
$('play-results').addEventListener('click', () => playList(found.filter((q) => q.kind !== 'image')))
$('search').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const q = $('q').value.trim()
  if (!q) return
  $('results').replaceChildren(); found = []; $('play-results').hidden = true
  $('status').textContent = 'searching…'
  try {
    const res = await fetch('/api/search?q=' + encodeURIComponent(q))
    if (!res.ok) { $('status').textContent = await res.text(); return }
    const reader = res.body.getReader(); const dec = new TextDecoder(); let buf = '', n = 0
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buf += dec.decode(value, { stream: true })
      let i
      while ((i = buf.indexOf('\\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1)
        if (!line) continue
        const m = JSON.parse(line)
        if (m.type === 'result') { addResult(m); n++ }
        $('status').textContent = (m.type === 'done' ? 'done: ' : 'searching… ') + n + ' result' + (n === 1 ? '' : 's')
      }
    }
  } catch (e) { $('status').textContent = 'search failed: ' + e.message }
})
`
