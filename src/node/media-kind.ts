/** What a shared file is, told from its extension (video, audio, image; anything else is not shared). */
import path from 'node:path'

/** What a file is, from its extension. */
export type MediaKind = 'video' | 'audio' | 'image'

const KINDS: Record<string, MediaKind> = {}
for (const e of ['mp4', 'm4v', 'mkv', 'webm', 'avi', 'mov', 'ogv', 'mpg', 'mpeg', 'ts', 'flv', 'wmv', '3gp']) KINDS[e] = 'video'
for (const e of ['mp3', 'ogg', 'oga', 'opus', 'flac', 'wav', 'm4a', 'aac', 'wma']) KINDS[e] = 'audio'
for (const e of ['jpg', 'jpeg', 'png', 'gif', 'webp', 'bmp', 'svg']) KINDS[e] = 'image'

/** Kind of a file name by extension (case-insensitive), or null when it is not media. */
export function mediaKind(name: string): MediaKind | null {
  return KINDS[path.extname(name).slice(1).toLowerCase()] ?? null
}
