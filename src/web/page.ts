/**
 * The single self-contained HTML page of the LAN web server: inline CSS and script (allowed by
 * a per-response CSP nonce; nothing is fetched from elsewhere), the library rendered on the
 * server with every name HTML-escaped, a search box whose results the script adds with
 * textContent (never innerHTML), and one <video>/<audio>/<img> player.
 */
import { formatBytes } from '../text/format.ts'
import type { LibraryEntry } from '../node/library.ts'

/** Escape text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

/** Content-Security-Policy for the page: only this origin, only the nonced inline code. */
export function pageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "media-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
}

function row(e: LibraryEntry): string {
  const name = escapeHtml(e.name)
  const play = e.cid
    ? `<button class="play" data-src="/media/${e.cid}" data-kind="${e.kind}" data-name="${name}">${e.kind === 'image' ? 'View' : 'Play'}</button>`
    : '<span class="muted">indexing…</span>'
  return `<tr data-cid="${e.cid ?? ''}"><td class="name">${name}</td><td>${e.kind}</td><td class="size">${formatBytes(e.size)}</td><td>${play}</td></tr>`
}

const STYLE = `
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:1em;background:#111;color:#eee}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;border-bottom:1px solid #333;text-align:left}
td.name{word-break:break-all}td.size{white-space:nowrap}.muted{color:#888}
button{background:#2a6;color:#fff;border:0;border-radius:4px;padding:.3em .8em;cursor:pointer}
input{padding:.35em;width:60%;background:#222;color:#eee;border:1px solid #444;border-radius:4px}
#player video,#player img{max-width:100%;max-height:60vh;background:#000}#player audio{width:100%}
#now{font-weight:bold;word-break:break-all}[hidden]{display:none!important}`

/* The script runs in the browser. It builds every row with textContent/dataset, so a peer's
 * file name can never become markup. */
const SCRIPT = `
const $ = (id) => document.getElementById(id)
const players = { video: $('video'), audio: $('audio'), image: $('image') }
function fmt(n) {
  if (n === null || n === undefined) return '?'
  if (n < 1000) return n + ' B'
  const u = ['kB', 'MB', 'GB', 'TB']; let v = n, i = -1
  do { v /= 1000; i++ } while (v >= 1000 && i < u.length - 1)
  return v.toFixed(v < 10 ? 1 : 0) + ' ' + u[i]
}
function play(src, kind, name) {
  for (const [k, el] of Object.entries(players)) {
    if (k !== kind && !el.hidden) { if (el.pause) el.pause(); el.removeAttribute('src'); if (el.load) el.load(); el.hidden = true }
  }
  const el = players[kind] || players.video
  $('now').textContent = name
  $('player').hidden = false
  el.hidden = false
  el.src = src
  if (el.play) el.play().catch((e) => { $('now').textContent = name + ' (' + e.message + ')' })
}
document.addEventListener('click', (ev) => {
  const b = ev.target.closest && ev.target.closest('button.play')
  if (b) play(b.dataset.src, b.dataset.kind, b.dataset.name)
})
function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td }
function addResult(r) {
  const tr = document.createElement('tr')
  tr.dataset.cid = r.contentId || ''
  cell(tr, r.name, 'name'); cell(tr, r.kind || '?'); cell(tr, fmt(r.size), 'size'); cell(tr, r.holder, 'muted')
  const td = cell(tr, '')
  if (r.url) {
    const b = document.createElement('button')
    b.className = 'play'; b.textContent = r.kind === 'image' ? 'View' : 'Play'
    b.dataset.src = r.url; b.dataset.kind = r.kind || 'video'; b.dataset.name = r.name
    td.appendChild(b)
  } else td.textContent = 'not streamable'
  $('results').appendChild(tr)
}
$('search').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const q = $('q').value.trim()
  if (!q) return
  $('results').replaceChildren()
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

/** Content-Security-Policy of the login page: no script, no style, the form posts nowhere else. */
export function loginCsp(): string {
  return ["default-src 'none'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"].join('; ')
}

/**
 * The login page: one field for the token the node printed, sent by GET to /login (the server
 * answers with a session cookie and a redirect that drops the token from the address bar).
 * @param problem a line shown above the form (a wrong token), HTML-escaped.
 */
export function loginPage(problem?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>p2ptube: log in</title></head>
<body>
<h1>p2ptube</h1>
${
  problem
    ? `<p><strong>${escapeHtml(problem)}</strong></p>
`
    : ''
}<p>Open the login link that <code>p2ptube node</code> printed, or paste its token:</p>
<form method="get" action="/login"><input name="token" type="password" autocomplete="current-password" size="50"> <button type="submit">Log in</button></form>
</body></html>
`
}

/** Most library rows put in the page (the JSON API has all). */
export const MAX_ROWS = 2000

/**
 * The page.
 * @param nodeId the node's "host:port", shown in the title.
 * @param nonce the CSP nonce (base64, fresh per response) that lets the inline style and script run.
 */
export function renderPage(nodeId: string, entries: LibraryEntry[], nonce: string): string {
  const sorted = entries.slice().sort((a, b) => a.name.localeCompare(b.name))
  let rows = sorted.slice(0, MAX_ROWS).map(row).join('\n')
  if (sorted.length > MAX_ROWS) rows += `\n<tr><td colspan="4" class="muted">… and ${sorted.length - MAX_ROWS} more: search for them, or see /api/library</td></tr>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>p2ptube ${escapeHtml(nodeId)}</title><style nonce="${nonce}">${STYLE}</style></head>
<body>
<h1>p2ptube <span class="muted">${escapeHtml(nodeId)}</span></h1>
<section id="player" hidden><p id="now"></p>
<video id="video" controls hidden preload="metadata"></video><audio id="audio" controls hidden></audio><img id="image" alt="" hidden></section>
<h2>Search the network</h2>
<form id="search"><input id="q" name="q" type="search" maxlength="256" placeholder="words in a file name" autocomplete="off"> <button type="submit">Search</button> <span id="status" class="muted"></span></form>
<table><tbody id="results"></tbody></table>
<h2>Library <span class="muted">(${entries.length} file${entries.length === 1 ? '' : 's'})</span></h2>
<table id="library"><thead><tr><th>Name</th><th>Kind</th><th>Size</th><th></th></tr></thead><tbody>
${rows || '<tr><td colspan="4" class="muted">nothing shared</td></tr>'}
</tbody></table>
<script nonce="${nonce}">${SCRIPT}</script>
</body></html>
`
}
