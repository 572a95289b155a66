/**
 * Pure text formatting shared by the CLI, the TUI and the web page: sizes, rates, durations,
 * ages, progress bars, column fitting. No I/O, no terminal library.
 */
import { safeText } from './safe-text.ts'

/** "1.5 MB" style size (decimal units, as file managers show); "?" when unknown. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?'
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let i = -1
  do {
    v /= 1000
    i++
  } while (v >= 1000 && i < units.length - 1)
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

/** "1.20 MB/s"; "-" for 0. */
export function formatRate(bytesPerSec: number): string {
  return bytesPerSec > 0 ? `${formatBytes(Math.round(bytesPerSec))}/s` : '-'
}

/** Seconds as "m:ss" or "h:mm:ss"; "--:--" when unknown. */
export function formatClock(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--:--'
  const s = Math.floor(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

/** An ETA in seconds as "12s", "3m04s", "1h02m"; "-" when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-'
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** How long ago `thenMs` was, relative to `nowMs` (both epoch ms), in 4 columns: "now", "12s", "5m", "2h", "3d". */
export function formatAge(thenMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000))
  if (s < 2) return 'now'
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

/** A bar of `width` cells, `fraction` (0..1) filled with '#', the rest '-'. */
export function progressBar(fraction: number, width: number): string {
  const w = Math.max(0, width)
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
  const full = Math.round(f * w)
  return '#'.repeat(full) + '-'.repeat(w - full)
}

/**
 * Cut or pad `s` to exactly `width` columns (cut text ends with '~': ASCII only). Terminal
 * controls are escaped first (safeText), so a column never holds one and keeps its width.
 */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return ''
  const s = safeText(text)
  if (s.length > width) return width === 1 ? '~' : s.slice(0, width - 1) + '~'
  return align === 'left' ? s.padEnd(width) : s.padStart(width)
}

/**
 * What a file's tags say, in one line: "Artist — Title · Album (1994) · 3:30 · 1920×1080"; absent
 * fields are left out, '' when nothing is known. Durations in ms.
 */
export function formatMeta(m: { artist?: string; title?: string; album?: string; year?: number; durationMs?: number; width?: number; height?: number } | undefined): string {
  if (!m) return ''
  const who = [m.artist, m.title].filter(Boolean).join(' — ')
  const album = m.album ? `${m.album}${m.year ? ` (${m.year})` : ''}` : m.year ? String(m.year) : ''
  const dur = m.durationMs !== undefined ? formatClock(m.durationMs / 1000) : ''
  const res = m.width && m.height ? `${m.width}×${m.height}` : ''
  return [who, album, dur, res].filter(Boolean).join(' · ')
}
