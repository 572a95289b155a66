/**
 * Test time limits on a busy machine: every limit a test sets on an event it waits for (ms, or
 * ava's per-test timeout in ava.config.js) is multiplied by P2PTUBE_TEST_SLOW (default 1; e.g.
 * `P2PTUBE_TEST_SLOW=3 npm test` on a loaded 2-core machine). A limit only bounds how long a
 * failing test takes: tests wait for events, never for a time window.
 */

/** The factor (a number >= 1; an unset, invalid or smaller value counts as 1). */
export const SLOW: number = slowFactor(process.env.P2PTUBE_TEST_SLOW)

/** Parse P2PTUBE_TEST_SLOW. */
export function slowFactor(text: string | undefined): number {
  const n = Number(text)
  return Number.isFinite(n) && n > 1 ? n : 1
}

/** `ms` scaled by the factor: a time limit for a wait in a test, ms. */
export function slow(ms: number): number {
  return Math.round(ms * SLOW)
}
