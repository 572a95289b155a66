// ava, live group (ava.config.js LIVE_TESTS): real mpv, tmux, Chromium, Python and network
// namespaces, one file at a time, so a busy machine slows them down without starving them.
import { common, LIVE_TESTS } from './ava.config.js'

export default { ...common, files: LIVE_TESTS, concurrency: 1 }
