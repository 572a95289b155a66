/**
 * The CLI's output sink (src/cli/output.ts): data on stdout, logs on stderr, and a reader that
 * closes early (`p2ptube search x | head -1`, EPIPE) ends the run cleanly: exit 0, no stack trace.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { Output } from '../../src/cli/output.ts'
import { BIG_CLIP, BIN, CHILD_ARGS, CHILD_ENV, shareWith, SMALL_CLIP, startNode, tempDir } from '../helpers/nodes.ts'

function sink(fail?: string): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk)
      cb(fail ? Object.assign(new Error(`write ${fail}`), { code: fail }) : null)
    }
  }) as Writable & { text: string }
  w.text = ''
  return w
}

test('data goes to stdout, logs to stderr; after EPIPE on stdout data is dropped and onClosed runs once', async (t) => {
  const out = sink('EPIPE')
  const err = sink()
  let closed = 0
  const o = new Output(false, out, err, {}, () => closed++)
  o.line('result 1')
  o.info('a log line')
  await new Promise((r) => setImmediate(r))
  o.line('result 2')
  o.line('result 3')
  await new Promise((r) => setImmediate(r))
  t.is(out.text, 'result 1\n')
  t.is(err.text, 'a log line\n')
  t.is(closed, 1)
})

test('p2ptube search piped into a reader that closes after the first line ends cleanly (exit 0, no stack trace)', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP, BIG_CLIP])] })
  const child = spawn(process.execPath, [...CHILD_ARGS, BIN, 'search', 'lebiniou', '--peer', seeder.id, '--json', '--timeout', '1', '--data', await tempDir(t)], {
    env: { ...process.env, NO_COLOR: '1', ...CHILD_ENV },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => child.kill())
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += String(d)))
  // `head -1`: read the first line, then close the pipe; the search still has lines to write.
  const first = await new Promise<string>((resolve) => {
    let got = ''
    child.stdout.on('data', (d) => {
      got += String(d)
      if (got.includes('\n')) {
        child.stdout.destroy()
        resolve(got.split('\n')[0]!)
      }
    })
  })
  t.truthy(JSON.parse(first).event)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  t.is(code, 0, stderr)
  t.notRegex(stderr, /EPIPE|Error|\n\s+at /)
})
