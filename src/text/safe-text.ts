/**
 * Text from the network made safe for a terminal (docs/SECURITY.md "Terminal output"): file
 * names, peer ids, ERRO texts and log messages reach the CLI, the TUI and logs through these,
 * so a name cannot set the window title (OSC), clear the screen, hide text, ring the bell,
 * forge a line (newline, carriage return) or reverse the text (bidi overrides).
 *
 * Escaped, as visible ASCII: C0 (U+0000-U+001F) and DEL (U+007F) as `\xHH`; C1 (U+0080-U+009F,
 * U+009B CSI and U+009D OSC included: some terminals act on them even inside UTF-8) and the
 * line/paragraph separators and bidi controls (U+2028, U+2029, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069) as `\uHHHH`. ECMA-48 §5 defines C0/C1; Unicode TR #9 the bidi controls.
 * Pure: no I/O.
 */

/* eslint-disable no-control-regex -- matching control characters is the point */
/** Characters escaped by safeText. */
export const UNSAFE_RE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** Same set plus ESC as the first byte of well-formed SGR colour codes, kept by safeSgrText. */
const SGR_OR_UNSAFE_RE = /\u001b\[[0-9;]*m|[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
/* eslint-enable no-control-regex */

function escapeOne(c: string): string {
  const n = c.charCodeAt(0)
  return n < 0x80 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`
}

/**
 * `s` with every terminal control character written as a visible escape ("\x1b", "\u009b").
 * Idempotent: its result holds no control character. Non-strings are String()ed.
 */
export function safeText(s: unknown): string {
  return String(s).replace(UNSAFE_RE, escapeOne)
}

/**
 * Like safeText, but keeps well-formed SGR colour sequences (ESC [ digits ; m), which the CLI's
 * own colouring (chalk) produces. For whole lines the CLI prints; remote strings inside them are
 * passed through safeText first, so they carry no SGR of their own.
 */
export function safeSgrText(s: string): string {
  return s.replace(SGR_OR_UNSAFE_RE, (m) => (m.length > 1 ? m : escapeOne(m)))
}

/**
 * A JSON line with the characters JSON.stringify leaves raw (DEL, C1, U+2028/2029, bidi
 * controls) written as \uHHHH escapes: the same value for a JSON reader, inert on a terminal.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
