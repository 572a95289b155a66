/**
 * Where a node keeps its files, after the XDG Base Directory Specification 0.8
 * (https://specifications.freedesktop.org/basedir-spec/) and xdg-user-dirs for the downloads
 * folder (https://www.freedesktop.org/wiki/Software/xdg-user-dirs/). Pure functions of the
 * environment and the home folder: nothing is created here.
 *
 * - config: `$XDG_CONFIG_HOME/p2ptube/config.json` (default `~/.config`)
 * - data (the node's state: shares added, peers seen, unfinished transfers, what was downloaded):
 *   `$XDG_DATA_HOME/p2ptube` (default `~/.local/share`). Data, not `$XDG_STATE_HOME`: the shares a
 *   user added and the list of downloaded files that are shared are the user's choices, not a
 *   disposable history; the group tracker keeps its registry under the same folder (`tracker/`).
 * - cache (content ids, piece hash lists: recomputed when lost): `$XDG_CACHE_HOME/p2ptube`
 * - downloads: `$XDG_DOWNLOAD_DIR/p2ptube` (the environment, else `~/.config/user-dirs.dirs`),
 *   else `~/Downloads/p2ptube`; never the current folder.
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** The folders of a p2ptube user (absolute paths). */
export interface P2PTubeDirs {
  /** Folder of config.json. */
  config: string
  configFile: string
  /** The node's state (state.json, the lock, the fetched journal). */
  data: string
  /** The content id cache. */
  cache: string
  /** Default folder for fetched files. */
  downloads: string
}

/** An XDG base directory: the variable when it holds an absolute path (the spec ignores relative ones), else `fallback`. */
function base(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = env[name]
  return v && path.isAbsolute(v) ? v : fallback
}

/**
 * The user's downloads folder: $XDG_DOWNLOAD_DIR, else its line in `$XDG_CONFIG_HOME/user-dirs.dirs`
 * (`XDG_DOWNLOAD_DIR="$HOME/Downloads"`: only `$HOME/` or an absolute path, as xdg-user-dirs
 * writes it), else `~/Downloads`. A line naming $HOME itself means "no such folder" there.
 */
export function userDownloadDir(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  const fromEnv = env.XDG_DOWNLOAD_DIR
  if (fromEnv && path.isAbsolute(fromEnv)) return fromEnv
  const file = path.join(base(env, 'XDG_CONFIG_HOME', path.join(home, '.config')), 'user-dirs.dirs')
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    // no user-dirs.dirs: the default
  }
  const m = /^\s*XDG_DOWNLOAD_DIR\s*=\s*"([^"]*)"\s*$/m.exec(text)
  if (m) {
    const v = (m[1] as string).replace(/^\$HOME(?=\/|$)/, home)
    if (path.isAbsolute(v) && path.resolve(v) !== path.resolve(home)) return v
  }
  return path.join(home, 'Downloads')
}

/** Every p2ptube folder for this environment (see the module comment). */
export function p2ptubeDirs(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): P2PTubeDirs {
  const config = path.join(base(env, 'XDG_CONFIG_HOME', path.join(home, '.config')), 'p2ptube')
  return {
    config,
    configFile: path.join(config, 'config.json'),
    data: path.join(base(env, 'XDG_DATA_HOME', path.join(home, '.local', 'share')), 'p2ptube'),
    cache: path.join(base(env, 'XDG_CACHE_HOME', path.join(home, '.cache')), 'p2ptube'),
    downloads: path.join(userDownloadDir(env, home), 'p2ptube')
  }
}
