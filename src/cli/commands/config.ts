/**
 * `p2ptube config get|set|unset|list|path`: read and change the settings file
 * ($XDG_CONFIG_HOME/p2ptube/config.json, app/dirs.ts) and show where a node keeps its files.
 * The keys are CONFIG_KEYS (src/cli/config.ts); precedence: flag > P2PTUBE_<KEY> > file > default.
 */
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { p2ptubeDirs } from '../../app/dirs.ts'
import { UsageError } from '../../protocol/errors.ts'
import { CONFIG_KEYS, effectiveSettings, envName, parseValue, readConfigFile, writeConfigFile, type ConfigValue } from '../config.ts'
import { EXIT, Output } from '../output.ts'

export const command = 'config <action> [key] [value..]'
export const describe = 'show or change settings (config.json; P2PTUBE_<KEY> in the environment overrides it, a flag overrides both)'

const WHERE = ['config', 'data', 'cache', 'downloads'] as const

export function builder(y: Argv) {
  return y
    .positional('action', { type: 'string', choices: ['get', 'set', 'unset', 'list', 'path'] as const, demandOption: true, describe: 'what to do' })
    .positional('key', { type: 'string', describe: 'a setting (p2ptube config list), or for path: config, data, cache or downloads' })
    .positional('value', { type: 'string', array: true, default: [] as string[], describe: 'the new value (set); a list takes several values or commas' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' })
    .example('$0 config set peer 192.168.1.20:9400', 'join this peer at every start')
    .example('$0 config set share ~/Videos ~/Music', 'share these at every start')
    .example('$0 config list', 'every key, its value and where it comes from')
    .example('$0 config path data', "the folder of the node's state")
}

export type ConfigArgs = { action: 'get' | 'set' | 'unset' | 'list' | 'path'; key?: string; value: string[]; json: boolean }

const show = (v: ConfigValue): string => (Array.isArray(v) ? v.join(',') : String(v))

/** Exit 0; 3 for `get` of a key that is not set; 2 for an unknown key or a bad value. */
export async function handler(a: ConfigArgs): Promise<number> {
  const out = new Output(a.json)
  const dirs = p2ptubeDirs()
  const file = dirs.configFile
  const known = (k: string | undefined): string => {
    if (!k) throw new UsageError(`config ${a.action} needs a key (p2ptube config list shows them)`)
    if (!CONFIG_KEYS[k]) throw new UsageError(`unknown key "${k}"; the keys are: ${Object.keys(CONFIG_KEYS).join(', ')}`)
    return k
  }
  switch (a.action) {
    case 'path': {
      const what = (a.key ?? 'config') as (typeof WHERE)[number] | 'all'
      if (what !== 'all' && !WHERE.includes(what)) throw new UsageError(`config path takes config, data, cache, downloads or all, got "${what}"`)
      const paths: Record<string, string> = { config: file, data: dirs.data, cache: dirs.cache, downloads: dirs.downloads }
      if (what === 'all') {
        out.event('paths', paths)
        for (const w of WHERE) out.line(`${w.padEnd(10)} ${paths[w]}`)
      } else {
        out.event('path', { what, path: paths[what] })
        out.line(paths[what] as string)
      }
      return EXIT.OK
    }
    case 'list': {
      const set = effectiveSettings(file, process.env)
      const rows = Object.entries(CONFIG_KEYS).map(([k, d]) => ({ key: k, value: set[k]?.value ?? null, from: set[k]?.from ?? 'default', type: d.type, describe: d.describe }))
      for (const r of rows) out.event('setting', r)
      const w = Math.max(...rows.map((r) => r.key.length))
      for (const r of rows) {
        const v = r.value === null ? out.color.dim('(default)') : `${show(r.value)}${r.from === 'env' ? out.color.dim(`  (from ${envName(r.key)})`) : ''}`
        out.line(`${r.key.padEnd(w)}  ${v}`)
      }
      return EXIT.OK
    }
    case 'get': {
      const k = known(a.key)
      const s = effectiveSettings(file, process.env)[k]
      out.event('setting', { key: k, value: s?.value ?? null, from: s?.from ?? 'default' })
      if (!s) {
        out.info(`${k} is not set: the built-in default applies (p2ptube --help)`)
        return EXIT.NOT_FOUND
      }
      out.line(show(s.value))
      return EXIT.OK
    }
    case 'set': {
      const k = known(a.key)
      if (!a.value.length) throw new UsageError(`config set ${k} needs a value`)
      const values = readConfigFile(file)
      values[k] = parseValue(k, a.value, `config set ${k}`)
      await writeConfigFile(file, values)
      out.event('set', { key: k, value: values[k], file })
      out.info(`${k} = ${show(values[k])} in ${file}`)
      if (process.env[envName(k)] !== undefined) out.info(`note: ${envName(k)} is set in the environment and overrides it`, 'warn')
      return EXIT.OK
    }
    case 'unset': {
      const k = known(a.key)
      const values = readConfigFile(file)
      const had = k in values
      delete values[k]
      if (had) await writeConfigFile(file, values)
      out.event('unset', { key: k, was: had, file })
      out.info(had ? `${k} removed from ${file}` : `${k} was not set in ${file}`)
      return EXIT.OK
    }
  }
}

/** The command for main.ts. */
export const module: CommandModule<ConfigArgs> = { command, describe, builder, handler }
