/**
 * The project's network lab for tests: Linux network namespaces joined by veth pairs and bridges,
 * so p2ptube processes run on "machines" with their own interfaces and addresses, real multicast
 * on a LAN, and real NAT (nftables masquerade) with a real UPnP IGD / NAT-PMP gateway (miniupnpd)
 * in front of homes. Modelled on ../shared/netlab/netlab.sh.
 *
 *   const why = await labUnavailable()       // a reason to skip, or null
 *   const lan = await lanLab(3)               // hosts 10.N.0.11..13 on one bridge
 *   const p = lan.hosts[0].spawn('node', ['bin/p2ptube.js', 'node', ...])
 *   await lan.down()                          // kills every process in the lab, deletes it
 *
 *   const net = await natLab()                // "internet" 20.N.20.0/24: tracker .10, public .30;
 *                                             // homes 192.168.K.10 behind routers .2K (K = 1..3);
 *                                             // only home 1's router maps ports (UPnP, NAT-PMP)
 *
 * Every lab gets its own short prefix and address block, so test files may build labs at once.
 * Needs root (CAP_NET_ADMIN), iproute2, and for natLab nftables and miniupnpd (scripts/setup.sh
 * installs them).
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { slow } from './slow.ts'

const run = promisify(execFile)

/** Resolves once process `pid` no longer exists (signal 0 fails), or after `timeoutMs`. */
async function gone(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    if (Date.now() > until) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * The system binary `name` from the sbin/bin folders, never one from node_modules/.bin (npm puts
 * that first on PATH, and an npm package there is called `nft` too).
 */
function sys(name: string): string {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    const p = path.join(dir, name)
    if (existsSync(p)) return p
  }
  return name
}

/** One lab machine: a network namespace with one address. */
export interface LabHost {
  /** Namespace name (also the host's name in test output). */
  readonly ns: string
  /** Its IPv4 address on its link. */
  readonly ip: string
  /** Its global IPv6 address (lanLab with `ipv6`), else undefined. */
  readonly ip6?: string
  /** Start a process on this host (`ip netns exec NS cmd args`); it is killed by `down()`. */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess
  /** Run a command on this host to its end. @throws the command's failure (exit code ≠ 0). */
  exec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }>
}

/** A built lab; `down()` kills every process in it and resolves once they have exited; idempotent, never throws. */
export interface Lab {
  readonly hosts: LabHost[]
  down(): Promise<void>
}

/** The NAT lab's machines. */
export interface NatLab extends Lab {
  /** Public host meant for a tracker (20.x.20.10). */
  readonly tracker: LabHost
  /** A public member host (20.x.20.30). */
  readonly pub: LabHost
  /** Home hosts 1..3 (192.168.K.10), each behind its router. */
  readonly homes: LabHost[]
  /** Routers 1..3 (WAN 20.x.20.2K); only routers[0] runs miniupnpd. */
  readonly routers: LabHost[]
  /** Restart home 1's miniupnpd (its mappings are lost, as when a home router reboots). */
  restartGateway(): Promise<void>
}

/**
 * Why a lab cannot be built here, or null when it can (root, `ip netns` works).
 * Tests call `t.log(reason)` and pass/skip with it instead of failing where the platform lacks it.
 */
export async function labUnavailable(opts: { nat?: boolean } = {}): Promise<string | null> {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root (CAP_NET_ADMIN)'
  const ns = `pl${randomBytes(3).toString('hex')}`
  try {
    await run(sys('ip'), ['netns', 'add', ns])
    await run(sys('ip'), ['netns', 'del', ns])
  } catch (err) {
    return `ip netns add failed: ${(err as Error).message.split('\n')[0]}`
  }
  if (opts.nat) {
    for (const tool of ['nft', 'miniupnpd']) if (sys(tool) === tool) return `${tool} is not installed (scripts/setup.sh installs it)`
  }
  return null
}

/** Second octet for a lab's addresses: distinct per lab in one process and, likely, across processes. */
let nextBlock = (process.pid % 50) * 4
function block(): number {
  nextBlock = (nextBlock + 1) % 200
  return 20 + nextBlock
}

class Builder {
  readonly prefix = `p${randomBytes(2).toString('hex')}`
  readonly namespaces: string[] = []
  readonly children = new Set<ChildProcess>()
  private downed = false

  async ip(...args: string[]): Promise<void> {
    await run(sys('ip'), args)
  }

  async addNs(name: string): Promise<string> {
    const ns = `${this.prefix}${name}`
    await this.ip('netns', 'add', ns)
    this.namespaces.push(ns)
    await this.ip('-n', ns, 'link', 'set', 'lo', 'up')
    return ns
  }

  host(ns: string, ip: string, ip6?: string): LabHost {
    return {
      ns,
      ip,
      ...(ip6 ? { ip6 } : {}),
      spawn: (cmd, args, opts = {}) => {
        const child = spawn(sys('ip'), ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
        this.children.add(child)
        child.once('exit', () => this.children.delete(child))
        return child
      },
      exec: (cmd, args) => run(sys('ip'), ['netns', 'exec', ns, cmd, ...args], { maxBuffer: 16 * 1024 * 1024 })
    }
  }

  /** A bridge in namespace `sw`, and a veth from `ns` (named `ifname`) plugged into it. */
  async plug(sw: string, bridge: string, ns: string, ifname: string, cidr: string): Promise<void> {
    const peer = `${ifname}x`
    await this.ip('link', 'add', ifname, 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', sw)
    await this.ip('-n', sw, 'link', 'set', peer, 'master', bridge)
    await this.ip('-n', sw, 'link', 'set', peer, 'up')
    await this.ip('-n', ns, 'addr', 'add', cidr, 'dev', ifname)
    await this.ip('-n', ns, 'link', 'set', ifname, 'up')
  }

  async bridge(sw: string, name: string): Promise<void> {
    await this.ip('-n', sw, 'link', 'add', name, 'type', 'bridge')
    await this.ip('-n', sw, 'link', 'set', name, 'up')
  }

  async down(): Promise<void> {
    if (this.downed) return
    this.downed = true
    // Killed AND exited: a process still winding down (a node's stop saves its state and
    // unlocks its data folder) would write into folders the test removes next (ENOTEMPTY).
    const exited = [...this.children].map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit').catch(() => {}) : null))
    for (const c of this.children) c.kill('SIGKILL')
    await Promise.all(exited)
    for (const ns of this.namespaces) {
      const pids = await run(sys('ip'), ['netns', 'pids', ns]).then(
        (r) => r.stdout.split(/\s+/).filter(Boolean),
        () => []
      )
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL')
        } catch {
          // already gone
        }
      }
      // Grandchildren (not ours to wait for): poll until each is gone, at most 5 s.
      for (const p of pids) await gone(Number(p), slow(5000))
    }
    for (const ns of this.namespaces.reverse()) await run(sys('ip'), ['netns', 'del', ns]).catch(() => {})
  }
}

/**
 * A LAN of `n` hosts on one bridge, addresses 10.B.0.11.. (B chosen per lab), multicast working,
 * a default route via 10.B.0.1 (nobody answers there: mDNS needs a route to send). With `ipv6`
 * every host also gets fd42:B::1N/64 (no duplicate address detection: usable at once).
 * @throws the failing `ip` command; what was built is torn down first.
 */
export async function lanLab(n: number, opts: { ipv6?: boolean } = {}): Promise<Lab> {
  const b = new Builder()
  const net = block()
  try {
    const sw = await b.addNs('sw')
    await b.bridge(sw, 'br0')
    const hosts: LabHost[] = []
    for (let i = 1; i <= n; i++) {
      const ns = await b.addNs(`h${i}`)
      const ip = `10.${net}.0.${10 + i}`
      await b.plug(sw, 'br0', ns, `e${i}`, `${ip}/24`)
      await b.ip('-n', ns, 'route', 'add', 'default', 'via', `10.${net}.0.1`, 'dev', `e${i}`, 'onlink')
      const ip6 = opts.ipv6 ? `fd42:${net.toString(16)}::${10 + i}` : undefined
      if (ip6) await b.ip('-n', ns, 'addr', 'add', `${ip6}/64`, 'dev', `e${i}`, 'nodad')
      hosts.push(b.host(ns, ip, ip6))
    }
    return { hosts, down: () => b.down() }
  } catch (err) {
    await b.down()
    throw err
  }
}

/** natLab options. */
export interface NatLabOptions {
  /**
   * Routers drop unsolicited connections to their own WAN address (an input firewall, as most
   * home routers have) instead of answering them with a TCP reset (default: no input rules, so a
   * SYN to a router port nothing listens on is reset by the router's own stack).
   */
  dropInbound?: boolean
}

/**
 * An "internet" 20.B.20.0/24 with a tracker host (.10), a public host (.30) and three homes: a
 * router (WAN .2K, LAN 192.168.K.1, nftables masquerade, nothing from outside forwarded unless
 * mapped) and one host 192.168.K.10 each. Only home 1's router runs miniupnpd (UPnP IGD + NAT-PMP).
 * @throws the failing command; what was built is torn down first.
 */
export async function natLab(opts: NatLabOptions = {}): Promise<NatLab> {
  const b = new Builder()
  const net = block()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-netlab-'))
  const wan = (last: number): string => `20.${net}.20.${last}`
  let gateway: ChildProcess | null = null
  try {
    const inet = await b.addNs('net')
    await b.bridge(inet, 'br0')
    const publicHost = async (name: string, ifname: string, last: number): Promise<LabHost> => {
      const ns = await b.addNs(name)
      await b.plug(inet, 'br0', ns, ifname, `${wan(last)}/24`)
      await b.ip('-n', ns, 'route', 'add', 'default', 'dev', ifname)
      return b.host(ns, wan(last))
    }
    const tracker = await publicHost('trk', 't0', 10)
    const pub = await publicHost('pub', 'u0', 30)
    const routers: LabHost[] = []
    const homes: LabHost[] = []
    for (let k = 1; k <= 3; k++) {
      const r = await publicHost(`r${k}`, `w${k}`, 20 + k)
      routers.push(r)
      const hn = await b.addNs(`h${k}`)
      await b.ip('link', 'add', `l${k}`, 'netns', r.ns, 'type', 'veth', 'peer', 'name', `e${k}`, 'netns', hn)
      await b.ip('-n', r.ns, 'addr', 'add', `192.168.${k}.1/24`, 'dev', `l${k}`)
      await b.ip('-n', r.ns, 'link', 'set', `l${k}`, 'up')
      await b.ip('-n', hn, 'addr', 'add', `192.168.${k}.10/24`, 'dev', `e${k}`)
      await b.ip('-n', hn, 'link', 'set', `e${k}`, 'up')
      await b.ip('-n', hn, 'route', 'add', 'default', 'via', `192.168.${k}.1`)
      await r.exec(sys('sysctl'), ['-qw', 'net.ipv4.ip_forward=1'])
      const rules = `table ip home {
  chain post { type nat hook postrouting priority 100; oifname "w${k}" masquerade; }
  chain guard {
    type filter hook forward priority 10; policy accept;
    iifname "w${k}" ct state established,related accept
    iifname "w${k}" ct status dnat accept
    iifname "w${k}" drop
  }
${opts.dropInbound ? `  chain input { type filter hook input priority 0; policy accept; iifname "w${k}" ct state new drop; }\n` : ''}}
`
      const file = path.join(dir, `r${k}.nft`)
      await writeFile(file, rules)
      await r.exec(sys('nft'), ['-f', file])
      homes.push(b.host(hn, `192.168.${k}.10`))
    }
    const r1 = routers[0] as LabHost
    const upnpRules = path.join(dir, 'upnp.nft')
    await writeFile(
      upnpRules,
      `table inet filter {
  chain forward { type filter hook forward priority 0; policy accept; jump forwardUPnP; }
  chain forwardUPnP { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump UPnP; }
  chain UPnP { }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump UPnP-Postrouting; }
  chain UPnP-Postrouting { }
}
`
    )
    await r1.exec(sys('nft'), ['-f', upnpRules])
    const conf = path.join(dir, 'miniupnpd.conf')
    await writeFile(
      conf,
      [
        'ext_ifname=w1',
        `ext_ip=${wan(21)}`,
        'upnp_table_name=filter',
        'upnp_nat_table_name=filter',
        'upnp_forward_chain=forwardUPnP',
        'upnp_nat_chain=UPnP',
        'upnp_nat_postrouting_chain=UPnP-Postrouting',
        'listening_ip=l1',
        'http_port=0',
        'enable_natpmp=yes',
        'enable_upnp=yes',
        'secure_mode=yes',
        'system_uptime=yes',
        'allow 1024-65535 192.168.1.0/24 1024-65535',
        'deny 0-65535 0.0.0.0/0 0-65535',
        ''
      ].join('\n')
    )
    const startGateway = (): void => {
      // A pid file per lab: with the default /var/run/miniupnpd.pid a second lab's miniupnpd
      // (tests build labs at once) sees the first one "already running" and exits.
      gateway = r1.spawn(sys('miniupnpd'), ['-f', conf, '-d', '-P', path.join(dir, 'miniupnpd.pid')])
      gateway.stdout?.resume()
      gateway.stderr?.resume()
    }
    startGateway()
    const all = [tracker, pub, ...routers, ...homes]
    return {
      hosts: all,
      tracker,
      pub,
      homes,
      routers,
      async restartGateway() {
        const g = gateway
        if (g && g.exitCode === null) {
          const exited = new Promise((resolve) => g.once('exit', resolve))
          g.kill('SIGTERM')
          await exited
        }
        // Flush the mappings the old process left in the kernel, as a reboot would.
        for (const chain of ['forwardUPnP', 'UPnP', 'UPnP-Postrouting']) await r1.exec(sys('nft'), ['flush', 'chain', 'inet', 'filter', chain]).catch(() => {})
        startGateway()
      },
      async down() {
        await b.down()
        await rm(dir, { recursive: true, force: true })
      }
    }
  } catch (err) {
    await b.down()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
