/**
 * Settings from the config file and the environment, below the command line: a flag beats
 * `P2PTUBE_<KEY>` in the environment, which beats `config.json`, which beats the built-in
 * default (README "Config"). The file is `$XDG_CONFIG_HOME/p2ptube/config.json` (app/dirs.ts), one
 * JSON object of the keys in CONFIG_KEYS.
 *
 * Why not yargs' own .config()/.env(): with .strict() both reject every key a command does not
 * declare (`http` in the file fails `p2ptube search`), and .env('P2PTUBE') would read the test
 * tuning variables (P2PTUBE_MDNS_INTERFACE, P2PTUBE_FROM_SOURCE...) as options. Here only the
 * documented keys are read, each for the commands it belongs to, and given to yargs with
 * `.config(object)`, which yargs ranks below the command line.
 */
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Argv } from 'yargs'
import { UsageError } from '../protocol/errors.ts'

/** A value's type in config.json; `list` is an array of strings (`P2PTUBE_SHARE=a,b` in the environment). */
export type ConfigType = 'string' | 'number' | 'boolean' | 'list'

/**
 * Which commands read a key: `node` for the long-running ones (`node` and the TUI), `all` for
 * them and the one-shot `search` and `fetch` (a `port` in the file must not make every `fetch`
 * try to listen on the node's port).
 */
export type ConfigScope = 'node' | 'all'

export interface ConfigKey {
  type: ConfigType
  scope: ConfigScope
  describe: string
}

/** The documented keys (README "Config" lists the same; test/cli/config.test.ts checks it). Names are the long flags. */
export const CONFIG_KEYS: Record<string, ConfigKey> = {
  port: { type: 'number', scope: 'node', describe: 'TCP port the node listens on (0 = any free port)' },
  listen: { type: 'string', scope: 'node', describe: 'address to listen on' },
  advertise: { type: 'string', scope: 'node', describe: "host to put in this node's peer id for everybody" },
  share: { type: 'list', scope: 'node', describe: 'folders or files to share at every start' },
  peer: { type: 'list', scope: 'all', describe: 'known peers host:port to join through' },
  maxpeers: { type: 'number', scope: 'node', describe: 'most peers to keep (0 = unlimited)' },
  hops: { type: 'number', scope: 'all', describe: 'how deep joining crawls peer lists' },
  downloads: { type: 'string', scope: 'all', describe: 'folder for fetched files' },
  'rate-limit': { type: 'number', scope: 'node', describe: 'upload cap, bytes/s (0 = none)' },
  data: { type: 'string', scope: 'all', describe: "folder for this node's state and content id cache" },
  tracker: { type: 'string', scope: 'all', describe: "the group's tracker host:port" },
  mdns: { type: 'boolean', scope: 'all', describe: 'find nodes and trackers on the LAN' },
  'port-mapping': { type: 'boolean', scope: 'node', describe: 'ask the home router for a public port' },
  group: { type: 'string', scope: 'all', describe: 'private group credential file' },
  'player-args': { type: 'string', scope: 'all', describe: 'extra mpv flags' },
  stabilize: { type: 'number', scope: 'node', describe: 'seconds between peer liveness checks' },
  http: { type: 'number', scope: 'node', describe: '(node, TUI) web page port' },
  'http-host': { type: 'string', scope: 'node', describe: '(node, TUI) web page address' },
  ttl: { type: 'number', scope: 'all', describe: 'search TTL' },
  timeout: { type: 'number', scope: 'all', describe: 'seconds a search waits for answers' },
  verbose: { type: 'boolean', scope: 'all', describe: 'also print debug logs' },
  'log-file': { type: 'string', scope: 'node', describe: '(node) append logs to this file' }
}

/** The environment variable of a key: `rate-limit` → `P2PTUBE_RATE_LIMIT`. */
export function envName(key: string): string {
  return 'P2PTUBE_' + key.toUpperCase().replace(/-/g, '_')
}

/** A config value of the right type. */
export type ConfigValue = string | number | boolean | string[]

/**
 * A value from text (the environment, `p2ptube config set`) as `key` takes it: numbers must be
 * finite, booleans are 1/0, true/false, yes/no, on/off; a list splits on commas.
 * @throws UsageError for an unknown key or a value of the wrong type; `where` says whose value it was.
 */
export function parseValue(key: string, text: string | string[], where: string): ConfigValue {
  const k = CONFIG_KEYS[key]
  if (!k) throw new UsageError(`${where}: unknown key "${key}" (p2ptube config list shows the keys)`)
  const parts = (Array.isArray(text) ? text : [text]).map(String)
  if (k.type === 'list')
    return parts
      .flatMap((p) => p.split(','))
      .map((s) => s.trim())
      .filter(Boolean)
  const one = parts.join(' ').trim()
  if (k.type === 'number') {
    const n = Number(one)
    if (one === '' || !Number.isFinite(n)) throw new UsageError(`${where}: ${key} must be a number, got "${one}"`)
    return n
  }
  if (k.type === 'boolean') {
    const b = /^(1|true|yes|on)$/i.test(one) ? true : /^(0|false|no|off)$/i.test(one) ? false : null
    if (b === null) throw new UsageError(`${where}: ${key} must be true or false, got "${one}"`)
    return b
  }
  return one
}

/** Check a value read from config.json. @throws UsageError naming the file. */
function checkValue(key: string, v: unknown, file: string): ConfigValue {
  const k = CONFIG_KEYS[key]
  if (!k) throw new UsageError(`${file}: unknown key "${key}" (p2ptube config list shows the keys)`)
  const ok = k.type === 'list' ? Array.isArray(v) && v.every((x) => typeof x === 'string') : typeof v === k.type && (k.type !== 'number' || Number.isFinite(v))
  if (!ok) throw new UsageError(`${file}: ${key} must be ${k.type === 'list' ? 'a list of strings' : `a ${k.type}`}, got ${JSON.stringify(v)}`)
  return v as ConfigValue
}

/**
 * The keys set in a config file (none when it does not exist).
 * @throws UsageError when it is not a JSON object of known keys with values of their types.
 */
export function readConfigFile(file: string): Record<string, ConfigValue> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`${file} must hold one JSON object of settings`)
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, checkValue(k, v, file)]))
}

/** Write a config file atomically (aside, then rename), creating its folder. */
export async function writeConfigFile(file: string, values: Record<string, ConfigValue>): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  await fs.writeFile(tmp, JSON.stringify(values, null, 2) + '\n')
  await fs.rename(tmp, file)
}

/** The keys set in the environment (`P2PTUBE_<KEY>`). @throws UsageError for a value of the wrong type. */
export function readConfigEnv(env: NodeJS.ProcessEnv): Record<string, ConfigValue> {
  const out: Record<string, ConfigValue> = {}
  for (const key of Object.keys(CONFIG_KEYS)) {
    const v = env[envName(key)]
    if (v !== undefined && v !== '') out[key] = parseValue(key, v, envName(key))
  }
  return out
}

/** A setting and where it came from. */
export interface Setting {
  value: ConfigValue
  from: 'env' | 'config'
}

/** The settings in force: the environment over the file. @throws UsageError (see readConfigFile). */
export function effectiveSettings(file: string, env: NodeJS.ProcessEnv): Record<string, Setting> {
  const out: Record<string, Setting> = {}
  for (const [k, v] of Object.entries(readConfigFile(file))) out[k] = { value: v, from: 'config' }
  for (const [k, v] of Object.entries(readConfigEnv(env))) out[k] = { value: v, from: 'env' }
  return out
}

/**
 * Give a command's parser the settings for `scope` (the environment over the file), for the
 * options the command declares; yargs ranks them below the command line and above defaults.
 * @throws UsageError for a bad config file or variable.
 */
export function applySettings<T>(y: Argv<T>, scope: ConfigScope, file: string, env: NodeJS.ProcessEnv = process.env): Argv<T> {
  // getOptions() is yargs' own (not in @types/yargs): `key` holds every option declared so far.
  const declared = new Set(Object.keys((y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key))
  const values: Record<string, ConfigValue> = {}
  for (const [k, s] of Object.entries(effectiveSettings(file, env))) {
    if (declared.has(k) && (scope === 'node' || CONFIG_KEYS[k]?.scope === 'all')) values[k] = s.value
  }
  return Object.keys(values).length ? y.config(values) : y
}
