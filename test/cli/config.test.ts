/**
 * Settings (src/cli/config.ts, src/cli/commands/config.ts, src/app/dirs.ts) with real `p2ptube`
 * processes on temp XDG folders: config set/get round trip, the environment over the file, a flag
 * over both, the folders from XDG_* and user-dirs.dirs.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { p2ptubeDirs, userDownloadDir } from '../../src/app/dirs.ts'
import { CONFIG_KEYS, envName } from '../../src/cli/config.ts'
import { isolatedXdg, SMALL_CLIP, BIG_CLIP, shareWith, spawnCli, tempDir } from '../helpers/nodes.ts'

/** Run a one-shot `p2ptube ARGS` to its end in `env`: exit code, stdout JSON events, stderr. */
async function run(t: Parameters<typeof spawnCli>[0], args: string[], env: Record<string, string>) {
  const p = spawnCli(t, args, env)
  p.child.stdin.end()
  const code = await p.exited
  return { code, events: p.events, stderr: p.stderr() }
}

test('config set then get round-trips every type, in $XDG_CONFIG_HOME/p2ptube/config.json', async (t) => {
  const env = isolatedXdg(t)
  t.is((await run(t, ['config', 'set', 'rate-limit', '250000'], env)).code, 0)
  t.is((await run(t, ['config', 'set', 'peer', '192.0.2.1:9400', '192.0.2.2:9400'], env)).code, 0)
  t.is((await run(t, ['config', 'set', 'mdns', 'yes'], env)).code, 0)
  const file = path.join(env.XDG_CONFIG_HOME as string, 'p2ptube', 'config.json')
  t.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), { 'rate-limit': 250000, peer: ['192.0.2.1:9400', '192.0.2.2:9400'], mdns: true })
  const got = await run(t, ['config', 'get', 'peer', '--json'], env)
  t.deepEqual(got.events[0], { event: 'setting', key: 'peer', value: ['192.0.2.1:9400', '192.0.2.2:9400'], from: 'config' })
  const path_ = await run(t, ['config', 'path', '--json'], env)
  t.is(path_.events[0]?.path, file)
  t.is((await run(t, ['config', 'unset', 'mdns'], env)).code, 0)
  t.is((await run(t, ['config', 'get', 'mdns'], env)).code, 3, 'an unset key is exit 3')
})

test('config rejects an unknown key and a value of the wrong type (exit 2), and a bad file stops a node with the file named', async (t) => {
  const env = isolatedXdg(t)
  const unknown = await run(t, ['config', 'set', 'colour', 'red'], env)
  t.is(unknown.code, 2)
  t.regex(unknown.stderr, /unknown key "colour"/)
  const bad = await run(t, ['config', 'set', 'port', 'eighty'], env)
  t.is(bad.code, 2)
  t.regex(bad.stderr, /port must be a number/)
  const file = path.join(env.XDG_CONFIG_HOME as string, 'p2ptube', 'config.json')
  await fs.mkdir(path.dirname(file), { recursive: true })
  await fs.writeFile(file, '{"maxpeers": "five"}')
  const node = await run(t, ['node', '--json'], env)
  t.is(node.code, 2)
  t.true(node.stderr.includes(file) && node.stderr.includes('maxpeers must be a number'), node.stderr)
})

test('a flag beats P2PTUBE_<KEY>, which beats config.json (share: 1, 2, then 3 files)', async (t) => {
  const env = isolatedXdg(t)
  const one = await shareWith(t, [SMALL_CLIP])
  const two = await shareWith(t, [SMALL_CLIP, BIG_CLIP])
  const three = await shareWith(t, [SMALL_CLIP, BIG_CLIP, [SMALL_CLIP, 'copy.mp4']])
  t.is((await run(t, ['config', 'set', 'share', one], env)).code, 0)
  const files = async (extraEnv: Record<string, string>, args: string[]): Promise<unknown> => {
    const p = spawnCli(t, ['node', '--json', '--stabilize', '0', ...args], { ...env, ...extraEnv })
    const listening = await p.next('listening')
    p.send({ cmd: 'quit' })
    t.is(await p.exited, 0)
    return listening.files
  }
  t.is(await files({}, []), 1, 'from config.json')
  t.is(await files({ [envName('share')]: two }, []), 2, 'the environment overrides the file')
  t.is(await files({ [envName('share')]: two }, ['--share', three]), 3, 'a flag overrides both')
})

test('folders follow XDG_* and user-dirs.dirs; downloads are never the current folder', async (t) => {
  const home = await tempDir(t)
  const d = p2ptubeDirs({}, home)
  t.deepEqual(d, {
    config: path.join(home, '.config', 'p2ptube'),
    configFile: path.join(home, '.config', 'p2ptube', 'config.json'),
    data: path.join(home, '.local', 'share', 'p2ptube'),
    cache: path.join(home, '.cache', 'p2ptube'),
    downloads: path.join(home, 'Downloads', 'p2ptube')
  })
  const x = p2ptubeDirs({ XDG_CONFIG_HOME: '/x/c', XDG_DATA_HOME: '/x/d', XDG_CACHE_HOME: 'relative/ignored' }, home)
  t.is(x.configFile, '/x/c/p2ptube/config.json')
  t.is(x.data, '/x/d/p2ptube')
  t.is(x.cache, path.join(home, '.cache', 'p2ptube'), 'a relative XDG path is ignored (basedir spec)')
  await fs.mkdir(path.join(home, '.config'), { recursive: true })
  await fs.writeFile(path.join(home, '.config', 'user-dirs.dirs'), '# written by xdg-user-dirs-update\nXDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n')
  t.is(userDownloadDir({}, home), path.join(home, 'Téléchargements'))
  t.is(p2ptubeDirs({ XDG_DOWNLOAD_DIR: '/srv/dl' }, home).downloads, '/srv/dl/p2ptube')
})

test('README documents every config key', async (t) => {
  const readme = await fs.readFile(new URL('../../README.md', import.meta.url), 'utf8')
  for (const k of Object.keys(CONFIG_KEYS)) t.true(readme.includes(`| \`${k}\` |`), `README has no row for ${k}`)
})
