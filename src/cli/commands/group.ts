/**
 * `p2ptube group`: a private group's admin commands (docs/SECURITY.md, PROTOCOL.md §8).
 *   group init [--name N] [--tracker H:P]   create the group (CA key, register, tracker credential)
 *   group invite NAME [--publish]            issue NAME's credential file; prints its path
 *   group revoke NAME                        revoke NAME; the tracker hands the new list out
 *   group list                               members, rights, revoked
 * Everything lives in the admin's data dir (--data, default ~/.local/share/p2ptube/group).
 */
import os from 'node:os'
import path from 'node:path'
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { GroupAdmin, TRACKER_MEMBER } from '../../group/admin.ts'
import { parsePeerId } from '../../protocol/messages.ts'
import { UsageError } from '../../protocol/errors.ts'
import { EXIT, Output } from '../output.ts'

export const command = 'group <action> [name]'
export const describe = 'create a private group, invite, revoke and list members (admin)'

/** The admin data dir when --data is not given. */
export const DEFAULT_GROUP_DIR = path.join(os.homedir(), '.local', 'share', 'p2ptube', 'group')

export function builder(y: Argv) {
  return y
    .positional('action', { type: 'string', choices: ['init', 'invite', 'revoke', 'list'] as const, demandOption: true, describe: 'what to do' })
    .positional('name', { type: 'string', describe: 'member name (invite, revoke) or group name (init)' })
    .option('publish', { type: 'boolean', default: false, describe: 'invite: the member may publish (have its files found and fetched)' })
    .option('tracker', { type: 'string', array: true, default: [] as string[], describe: 'init: tracker host:port written into credentials as a hint (repeatable)' })
    .option('data', { type: 'string', describe: `the admin data dir (default ${DEFAULT_GROUP_DIR})` })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' })
    .example('$0 group init family --tracker 192.168.1.10:9410', 'create the group "family"')
    .example('$0 group invite alice --publish', 'issue alice a credential file; she may publish')
    .example('$0 tracker --group-admin ~/.local/share/p2ptube/group', 'run the group tracker (hands out revocations)')
    .example('$0 node --group alice.json --share ~/Videos', 'alice runs a member node')
}

interface GroupArgs {
  action: 'init' | 'invite' | 'revoke' | 'list'
  name?: string
  publish: boolean
  tracker: string[]
  data?: string
  json: boolean
}

/** @returns EXIT.OK; throws with a clear message (exit 1/2) otherwise. */
export async function handler(a: GroupArgs): Promise<number> {
  const out = new Output(a.json)
  const admin = new GroupAdmin(path.resolve(a.data ?? DEFAULT_GROUP_DIR))
  switch (a.action) {
    case 'init': {
      for (const t of a.tracker) parsePeerId(t)
      const info = await admin.init(a.name ?? 'p2ptube', a.tracker)
      out.event('group', { group: info.group, name: info.name, dir: admin.dir, trackerCredential: admin.trackerCredentialFile })
      out.line(`group ${info.name} (${info.group}) created in ${admin.dir}`)
      out.line(`run its tracker with: p2ptube tracker --group-admin ${admin.dir}`)
      return EXIT.OK
    }
    case 'invite': {
      if (!a.name) throw new UsageError('group invite needs a member NAME')
      const m = await admin.issue(a.name, a.publish)
      out.event('invited', { name: m.name, serial: m.serial, publish: m.publish, file: m.file })
      out.line(m.file)
      if (!a.json) process.stderr.write(`give this file to ${m.name} over a private channel; it holds their key (mode 0600)\n`)
      return EXIT.OK
    }
    case 'revoke': {
      if (!a.name) throw new UsageError('group revoke needs a member NAME')
      const { member, revocations } = await admin.revoke(a.name)
      const version = (JSON.parse(revocations.list) as { version: number }).version
      out.event('revoked', { name: member.name, serial: member.serial, version })
      out.line(`revoked ${member.name} (serial ${member.serial}); revocation list version ${version}: the group tracker pushes it to member nodes now (the others get it at their next announce)`)
      return EXIT.OK
    }
    case 'list': {
      const info = admin.info()
      const members = admin.members().filter((m) => m.name !== TRACKER_MEMBER || m.role !== 'tracker')
      out.event('members', {
        group: info.group,
        name: info.name,
        members: members.map((m) => ({ name: m.name, serial: m.serial, publish: m.publish, revoked: Boolean(m.revokedAt), issuedAt: m.issuedAt }))
      })
      out.line(`group ${info.name} (${info.group}): ${members.filter((m) => !m.revokedAt).length} members`)
      for (const m of members) out.line(`  ${m.name.padEnd(20)} ${m.revokedAt ? 'revoked   ' : m.publish ? 'publish   ' : 'watch     '} ${m.serial}`)
      return EXIT.OK
    }
  }
}

/** The command for main.ts. */
export const module: CommandModule<GroupArgs> = { command, describe, builder, handler }
