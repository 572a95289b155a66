/**
 * The single self-contained HTML page of the LAN web server: inline CSS and script (allowed by
 * a per-response CSP nonce; nothing is fetched from elsewhere), the library table rendered on
 * the server with every name HTML-escaped, with thumbnails (/picture/<cid>), tags and
 * durations; the library as escaped JSON for the script's views (page-script.ts: music by
 * artist → album → track, videos by folder, a photo grid), a search box whose results the
 * script adds with textContent (never innerHTML), and one player with a play queue.
 */
import { formatBytes } from '../text/format.ts'
import type { LibraryEntry } from '../node/library.ts'
import { naturalOrder } from '../node/query.ts'
import { PAGE_SCRIPT } from './page-script.ts'

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

/** Minutes:seconds (h:mm:ss past an hour) of a duration in ms; '' when unknown. */
function clock(ms: number | undefined): string {
  if (ms === undefined) return ''
  const s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor(s / 60) % 60
  const r = String(s % 60).padStart(2, '0')
  return h ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`
}

function row(e: LibraryEntry, picture: boolean): string {
  const name = escapeHtml(e.name)
  const play = e.cid
    ? `<button class="play" data-src="/media/${e.cid}" data-kind="${e.kind}" data-name="${name}">${e.kind === 'image' ? 'View' : 'Play'}</button>`
    : '<span class="muted">indexing…</span>'
  const m = e.meta
  const info = escapeHtml([m?.artist, m?.album].filter(Boolean).join(' — ') || (m?.width && m.height ? `${m.width}×${m.height}` : ''))
  const pic = picture ? `<img class="thumb" alt="" loading="lazy" src="/picture/${e.cid}">` : ''
  return `<tr data-cid="${e.cid ?? ''}"><td class="pic">${pic}</td><td class="name">${name}</td><td class="info">${info}</td><td class="dur">${clock(m?.durationMs)}</td><td class="kind">${e.kind}</td><td class="size">${formatBytes(e.size)}</td><td>${play}</td></tr>`
}

/**
 * The library as JSON for the page's script (page-script.ts), safe inside <script>: every
 * `<`, `>`, `&` and line separator is a \u escape, so no name or tag can close the element.
 */
function libraryJson(entries: LibraryEntry[], picture: (e: LibraryEntry) => boolean): string {
  const data = entries.map((e) => ({ n: e.name, k: e.kind, s: e.size, c: e.cid ?? null, ...(e.meta ? { m: e.meta } : {}), ...(picture(e) ? { p: 1 } : {}) }))
  return JSON.stringify(data).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/*
 * Layout: one column that reflows from a 390-px phone (tables drop their secondary columns,
 * grids take two tiles a row) to a TV (larger type, wide grids); every control is a button, so
 * a remote's arrow keys and Enter reach it, with a visible focus ring.
 */
const STYLE = `
*{box-sizing:border-box}
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:.6em;background:#111;color:#eee}
h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.1em;margin:1em 0 .4em}h3{font-size:1em;margin:.8em 0 .3em;word-break:break-all}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .4em;border-bottom:1px solid #333;text-align:left;vertical-align:middle}
td.name{word-break:break-all}td.size,td.dur{white-space:nowrap}.muted{color:#999}
button{background:#2a6;color:#fff;border:0;border-radius:4px;padding:.4em .8em;cursor:pointer;font:inherit}
button:focus-visible,a:focus-visible{outline:3px solid #fd0;outline-offset:2px}
button:disabled{opacity:.4}
button.link,button.card,button.tile,button.back{background:none;color:inherit;padding:.2em;text-align:left}
input{padding:.4em;width:100%;max-width:32em;background:#222;color:#eee;border:1px solid #444;border-radius:4px;font:inherit}
form#search{display:flex;flex-wrap:wrap;gap:.4em;align-items:center}
#player{position:sticky;top:0;z-index:2;background:#111;padding:.3em 0;border-bottom:1px solid #333}
#player video,#player img{display:block;max-width:100%;max-height:50vh;background:#000;margin:auto}#player audio{width:100%}
#now{font-weight:bold;word-break:break-all;margin:.2em 0 0}#now-info{margin:0 0 .3em}
#queue-box{display:flex;gap:.5em;align-items:flex-start}#queue{margin:0;padding-left:1.5em;max-height:7em;overflow:auto;flex:1}
#queue li.current button{color:#6d9;font-weight:bold}
nav{display:flex;gap:.3em;flex-wrap:wrap;margin:.8em 0}nav button{background:#333}nav button[aria-selected=true]{background:#2a6}
img.thumb{width:64px;height:48px;object-fit:cover;border-radius:3px;background:#222;display:block}
img.none{visibility:hidden}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:.6em}
.tile,.card{display:flex;flex-direction:column;gap:.2em;border-radius:6px;background:#1b1b1b!important;padding:.4em!important;min-width:0}
.tile img.thumb,.card img.cover{width:100%;height:auto;aspect-ratio:4/3;object-fit:cover}
.tile .title,.card .title{font-weight:bold;overflow-wrap:anywhere}
#music-list{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:.6em}
#music-list>.back,#music-list>.album-head,#music-list>ol,#music-list>p{grid-column:1/-1}
.album-head{display:flex;gap:1em;align-items:flex-end}.album-head img.cover{width:160px;height:160px;object-fit:cover}
ol.tracks li{display:flex;justify-content:space-between;gap:1em;border-bottom:1px solid #2a2a2a}
#viewer{position:fixed;inset:0;z-index:5;background:rgba(0,0,0,.92);display:flex;flex-direction:column;align-items:center;justify-content:center;padding:.5em}
#viewer img{max-width:100%;max-height:85vh;object-fit:contain}#viewer p{margin:.3em;word-break:break-all;text-align:center}
@media (max-width:600px){body{font-size:14px}td.kind,td.size,th.kind,th.size,td.holder,td.info,th.info{display:none}img.thumb{width:48px;height:36px}.grid,#music-list{grid-template-columns:repeat(2,minmax(0,1fr))}.album-head img.cover{width:110px;height:110px}}
@media (min-width:1600px){body{font-size:22px;max-width:none;padding:1em 2em}.grid,#music-list{grid-template-columns:repeat(auto-fill,minmax(260px,1fr))}img.thumb{width:96px;height:72px}}
[hidden]{display:none!important}`

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
 * @param picture whether a file may have a picture at /picture/<cid> (no request is made for the others).
 */
export function renderPage(nodeId: string, entries: LibraryEntry[], nonce: string, picture: (e: LibraryEntry) => boolean = () => false): string {
  const sorted = entries.slice().sort((a, b) => naturalOrder(a.name, b.name))
  const shown = sorted.slice(0, MAX_ROWS)
  let rows = shown.map((e) => row(e, picture(e))).join('\n')
  if (sorted.length > MAX_ROWS) rows += `\n<tr><td colspan="7" class="muted">… and ${sorted.length - MAX_ROWS} more: search for them, or see /api/library</td></tr>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>p2ptube ${escapeHtml(nodeId)}</title><style nonce="${nonce}">${STYLE}</style></head>
<body>
<h1>p2ptube <span class="muted">${escapeHtml(nodeId)}</span></h1>
<section id="player" hidden><p id="now"></p><p id="now-info" class="muted"></p>
<video id="video" controls hidden preload="metadata"></video><audio id="audio" controls hidden></audio><img id="image" alt="" hidden>
<div id="queue-box" hidden><button id="prev" type="button">◀ Prev</button><ol id="queue"></ol><button id="next" type="button">Next ▶</button></div></section>
<h2>Search the network</h2>
<form id="search"><input id="q" name="q" type="search" maxlength="256" placeholder="words, artist:…, album:…, genre:…, kind:video, dur>10m" autocomplete="off"> <button type="submit">Search</button> <button id="play-results" type="button" hidden>Play all</button> <span id="status" class="muted"></span></form>
<table><tbody id="results"></tbody></table>
<nav aria-label="Library views"><button type="button" data-view="files" aria-selected="true">Files</button><button type="button" data-view="music" aria-selected="false">Music</button><button type="button" data-view="videos" aria-selected="false">Videos</button><button type="button" data-view="photos" aria-selected="false">Photos</button></nav>
<main>
<section id="files" class="view">
<h2>Library <span class="muted">(${entries.length} file${entries.length === 1 ? '' : 's'})</span></h2>
<table id="library"><thead><tr><th></th><th>Name</th><th class="info">Artist — album</th><th>Time</th><th class="kind">Kind</th><th class="size">Size</th><th></th></tr></thead><tbody>
${rows || '<tr><td colspan="7" class="muted">nothing shared</td></tr>'}
</tbody></table></section>
<section id="music" class="view" hidden><h2 id="music-path">Artists</h2><div id="music-list"></div></section>
<section id="videos" class="view" hidden><h2>Videos</h2><div id="video-list"></div></section>
<section id="photos" class="view" hidden><h2>Photos</h2><div id="photo-grid" class="grid"></div></section>
</main>
<div id="viewer" hidden role="dialog" aria-label="Photo"><img id="viewer-img" alt=""><p id="viewer-name"></p><p id="viewer-info" class="muted"></p><button id="viewer-close" type="button">Close</button></div>
<script id="library-data" type="application/json" nonce="${nonce}">${libraryJson(shown, picture)}</script>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body></html>
`
}
