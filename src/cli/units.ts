/**
 * Sizes and rates on the command line: `--rate-limit 1M` (issue #13). Decimal units as
 * formatBytes prints them (k = 1000, M = 10^6, G = 10^9, T = 10^12), binary with an i (Ki =
 * 1024, Mi, Gi, Ti); a trailing B and /s are allowed: 500k, 1.5M, 2MB/s, 1Mi, 800000.
 */
import { UsageError } from '../protocol/errors.ts'

const POWERS: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4 }

/**
 * Parse a size or rate (bytes, or bytes/s).
 * @param flag the option's name, for the message.
 * @throws UsageError (exit 2) for anything else, or a negative value.
 */
export function parseSize(value: string | number, flag: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?(?:\/s)?\s*$/i.exec(String(value))
  if (!m) throw new UsageError(`--${flag} takes a number of bytes with an optional unit (500k, 1M, 2MB/s, 1Mi), got ${JSON.stringify(String(value))}`)
  const base = m[3] ? 1024 : 1000
  return Math.round(Number(m[1]) * base ** POWERS[m[2]!.toLowerCase()]!)
}

/** A yargs option of bytes or bytes/s that takes units (parseSize). */
export function sizeOption(flag: string, describe: string, fallback = 0) {
  return { type: 'string' as const, default: String(fallback), describe: `${describe}; units: 500k, 1M, 1Mi`, coerce: (v: string | number): number => parseSize(v, flag) }
}
