// ava, unit group (`npm test` runs this, then ava.live.config.js). Tests that drive real mpv,
// tmux, Chromium or Python, and the network-namespace labs, are the live group (LIVE_TESTS):
// they run one at a time, after this group. ava's per-test timeout scales with
// P2PTUBE_TEST_SLOW (test/helpers/slow.ts). `npx ava test/x.test.ts` runs any one file, live or not.

/** The live group: globs relative to the project folder (kept here so merges touch one list). */
export const LIVE_TESTS = [
  'test/e2e.test.ts',
  'test/player.test.ts',
  'test/streaming.test.ts',
  'test/legacy-interop.test.ts',
  'test/protocol/merkle.test.ts',
  'test/media/unsafe-media.test.ts',
  'test/tui/tui.test.ts',
  'test/tui/tui-state.test.ts',
  'test/tui/tui-queue.test.ts',
  'test/tui/tui-web.test.ts',
  'test/player/**/*.test.ts',
  'test/web/browser.test.ts',
  'test/web/page-views.test.ts',
  'test/lab/**/*.test.ts'
]

const slow = Number(process.env.P2PTUBE_TEST_SLOW) > 1 ? Number(process.env.P2PTUBE_TEST_SLOW) : 1

/** Settings both groups share. */
export const common = {
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: `${Math.round(120 * slow)}s`
}

// Files named on the command line are run whatever their group.
const named = process.argv.slice(2).some((a) => /\.test\.ts$/.test(a))

export default {
  ...common,
  files: named ? ['test/**/*.test.ts'] : ['test/**/*.test.ts', ...LIVE_TESTS.map((g) => `!${g}`)],
  concurrency: 2
}
