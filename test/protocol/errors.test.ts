/**
 * Error codes (docs/PROTOCOL.md §5): ERROR_CODES is the one list, every code in src/ is in it,
 * the doc's table is generated from it, and codes survive the wire (ERRO "<CODE>: text" →
 * RemoteError.remoteCode), legacy texts excepted and mapped back.
 */
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DOC, renderErrorTable, withErrorTable } from '../../scripts/gen-errors.ts'
import { ERROR_CODES, formatErrorPayload, P2PTubeError, parseErrorPayload, RemoteError, UsageError } from '../../src/protocol/errors.ts'

const SRC = fileURLToPath(new URL('../../src', import.meta.url))

function sources(dir: string): Array<[string, string]> {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e): Array<[string, string]> => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return sources(p)
    return e.name.endsWith('.ts') ? [[path.relative(SRC, p), fs.readFileSync(p, 'utf8')]] : []
  })
}

test('every ERR_* code written in src/ is in ERROR_CODES, and every code of ERROR_CODES is used', (t) => {
  const used = new Map<string, string>()
  for (const [file, text] of sources(SRC)) {
    for (const m of text.matchAll(/\bERR_[A-Z0-9_]*[A-Z0-9]\b/g)) if (!used.has(m[0])) used.set(m[0], file)
  }
  const missing = [...used].filter(([code]) => !Object.hasOwn(ERROR_CODES, code)).map(([code, file]) => `${code} (${file})`)
  t.deepEqual(missing, [], 'add these to ERROR_CODES in src/protocol/errors.ts, then npm run gen:errors')
  // Used outside errors.ts itself (its record names every code once).
  const usedOutside = new Set<string>()
  for (const [file, text] of sources(SRC)) if (file !== path.join('protocol', 'errors.ts')) for (const m of text.matchAll(/\bERR_[A-Z0-9_]*[A-Z0-9]\b/g)) usedOutside.add(m[0])
  // Raised by errors.ts's own classes (RemoteError, AbortError).
  for (const m of ['ERR_REMOTE', 'ERR_ABORTED']) usedOutside.add(m)
  t.deepEqual(
    Object.keys(ERROR_CODES).filter((c) => !usedOutside.has(c)),
    [],
    'codes nobody raises: drop them'
  )
})

test("docs/PROTOCOL.md's error table is the one scripts/gen-errors.ts renders (npm run gen:errors)", (t) => {
  const doc = fs.readFileSync(DOC, 'utf8')
  t.is(doc, withErrorTable(doc), 'out of date: run npm run gen:errors')
  t.is(
    renderErrorTable()
      .split('\n')
      .filter((l) => l.startsWith('| `ERR_')).length,
    Object.keys(ERROR_CODES).length
  )
  // An added code makes the doc out of date.
  t.not(doc, withErrorTable(doc, renderErrorTable({ ...ERROR_CODES, ERR_NEW: 'x' })))
})

test('ERRO payloads: "<CODE>: text", legacy texts bare on legacy types only, parsed back to the code', (t) => {
  t.is(formatErrorPayload('ERR_NOT_FOUND', 'File not found'), 'ERR_NOT_FOUND: File not found')
  t.is(formatErrorPayload('ERR_NOT_FOUND', 'File not found', true), 'File not found')
  t.is(formatErrorPayload('ERR_PEERS_FULL', 'Join: too many peers', true), 'Join: too many peers')
  t.is(formatErrorPayload('ERR_SPOOFED_ADDRESS', 'Join: address x is not y', true), 'ERR_SPOOFED_ADDRESS: Join: address x is not y')
  t.is(formatErrorPayload('ERR_FILE_CHANGED', 'Error reading file: it changed since it was indexed', true), 'ERR_FILE_CHANGED: Error reading file: it changed since it was indexed')
  t.deepEqual(parseErrorPayload('ERR_RATE_LIMITED: Announce: rate limited, retry in 5 ms'), { code: 'ERR_RATE_LIMITED', message: 'Announce: rate limited, retry in 5 ms' })
  t.deepEqual(parseErrorPayload('File not found'), { code: 'ERR_NOT_FOUND', message: 'File not found' })
  t.is(parseErrorPayload('Quit: peer not found: 1.2.3.4:5').code, 'ERR_PEER_NOT_FOUND')
  t.is(parseErrorPayload('something a legacy peer says').code, undefined)
  const r = new RemoteError('ERR_NOT_PUBLISHER: bob may not publish')
  t.is(r.code, 'ERR_REMOTE')
  t.is(r.remoteCode, 'ERR_NOT_PUBLISHER')
  t.is(new RemoteError('Error reading file (ENOENT)').remoteCode, 'ERR_READ')
})

test('UsageError is a P2PTubeError with code ERR_USAGE', (t) => {
  const e = new UsageError('--port must be 0..65535, got -1')
  t.true(e instanceof P2PTubeError)
  t.is(e.code, 'ERR_USAGE')
  t.is(e.name, 'UsageError')
})
