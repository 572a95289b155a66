/**
 * PiecePicker (the swarm's decisions, docs/PROTOCOL.md §4.8) against a simple model: an array of
 * 'missing' | 'flight' | 'have' per piece, the reader's priority and the cursor. Random command
 * sequences (fast-check) drive both; every pick is checked against the model's rules.
 */
import test from 'ava'
import fc from 'fast-check'
import { MAX_COPIES, PiecePicker, RUN_PIECES, RUNS_PER_SOURCE, STREAMING_MS, type PickerRun } from '../../src/node/piece-picker.ts'

const PS = 1000 // bytes a piece: any size works, the picker only divides by it

type St = 'missing' | 'flight' | 'have'

/** The model: what each piece is, and where the next pick starts. */
class Model {
  st: St[]
  priority: number | null = null
  cursor = 0
  constructor(n: number) {
    this.st = Array.from({ length: n }, () => 'missing' as St)
  }
  firstMissing(from: number): number | null {
    for (let i = Math.max(0, from); i < this.st.length; i++) if (this.st[i] === 'missing') return i
    return null
  }
  expectedStart(): number | null {
    const fromPriority = this.priority !== null ? this.firstMissing(this.priority) : null
    return fromPriority ?? this.firstMissing(this.cursor) ?? this.firstMissing(0)
  }
  /** Missing pieces contiguous from `p`. */
  stretch(p: number): number {
    let n = 0
    while (p + n < this.st.length && this.st[p + n] === 'missing') n++
    return n
  }
}

const cmd = fc.oneof(
  fc.record({ op: fc.constant('pick' as const), sources: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant('have' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('release' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ op: fc.constant('prioritize' as const), at: fc.nat() })
)

test('pick: never a piece had or in flight; runs contiguous, within the file, capped; start follows priority, then cursor, then 0', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.array(cmd, { maxLength: 60 }), (n, cmds) => {
      const picker = new PiecePicker()
      picker.setPieceCount(n)
      const m = new Model(n)
      for (const c of cmds) {
        if (c.op === 'have') {
          const first = c.at % n
          const count = Math.min(c.len, n - first)
          picker.markHave(first, count)
          for (let i = first; i < first + count; i++) m.st[i] = 'have'
        } else if (c.op === 'release') {
          const first = c.at % n
          picker.release(first, first + c.len)
          for (let i = first; i < Math.min(n, first + c.len); i++) if (m.st[i] === 'flight') m.st[i] = 'missing'
        } else if (c.op === 'prioritize') {
          // No runs in flight in this model: a missing piece becomes the priority and the cursor.
          const p = Math.min(Math.floor((c.at % (n * PS)) / PS), n - 1)
          const plan = picker.prioritize(c.at % (n * PS), PS, 0, [], null, [])
          if (m.st[p] === 'have') {
            if (plan.pump) return false
          } else {
            if (!plan.pump || plan.cut.length) return false
            m.priority = p
            m.cursor = p
          }
        } else {
          const expected = m.expectedStart()
          const r = picker.pick(c.sources)
          m.priority = null
          if (expected === null) {
            if (r !== null) return false
            continue
          }
          if (!r || r.first !== expected) return false
          const stretch = m.stretch(r.first)
          if (r.count < 1 || r.count > stretch || r.count > RUN_PIECES || r.first + r.count > n) return false
          // One holder: runs as long as possible; several: at least 4 pieces when there are.
          if (c.sources === 1 && r.count !== Math.min(stretch, RUN_PIECES)) return false
          if (c.sources > 1 && r.count < Math.min(4, stretch)) return false
          for (let i = r.first; i < r.first + r.count; i++) m.st[i] = 'flight'
          m.cursor = r.first + r.count
        }
        for (let i = 0; i < n; i++) {
          const want = m.st[i]
          const got = picker.has(i) ? 'have' : picker.inFlight(i) ? 'flight' : 'missing'
          if (want !== got) return false
        }
      }
      return picker.complete() === (m.firstMissing(0) === null)
    }),
    { numRuns: 200 }
  )
  t.pass()
})

test('pick: every missing piece is assigned exactly once while holders take runs', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), fc.array(fc.nat(), { maxLength: 50 }), fc.integer({ min: 1, max: 6 }), fc.option(fc.nat()), (n, had, sources, reader) => {
      const picker = new PiecePicker()
      picker.setPieceCount(n)
      for (const h of had) picker.markHave(h % n)
      const missing = new Set<number>()
      for (let i = 0; i < n; i++) if (!picker.has(i)) missing.add(i)
      if (reader !== null) picker.prioritize(reader % (n * PS), PS, 0, [], null, [])
      const seen = new Set<number>()
      for (let r = picker.pick(sources); r; r = picker.pick(sources)) {
        for (let i = r.first; i < r.first + r.count; i++) {
          if (seen.has(i) || !missing.has(i)) return false
          seen.add(i)
        }
      }
      return seen.size === missing.size && picker.complete()
    }),
    { numRuns: 200 }
  )
  t.pass()
})

test('prioritize: the reader waiting piece is the start of the next run, wherever the cursor is', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 4000 }), fc.integer({ min: 1, max: 4 }), fc.nat(), fc.nat(), (n, sources, picks, at) => {
      const picker = new PiecePicker()
      picker.setPieceCount(n)
      for (let i = 0; i < picks % 5; i++) picker.pick(sources)
      const p = at % n
      const had = picker.has(p)
      const plan = picker.prioritize(p * PS + 7, PS, 0, [], null, [])
      if (had) return !plan.pump
      // The first missing piece from p (p itself unless it is already in flight), else from 0.
      const expected = picker.firstMissing(p) ?? picker.firstMissing(0)
      const r = picker.pick(sources)
      return plan.pump && (r === null ? expected === null : r.first === expected)
    }),
    { numRuns: 300 }
  )
  t.pass()
})

test('prioritize before the size is known: remembered, picked first once the pieces exist', (t) => {
  const picker = new PiecePicker()
  const plan = picker.prioritize(50 * PS, PS, 0, [], null, [])
  t.false(plan.pump)
  picker.setPieceCount(100)
  t.deepEqual(picker.pick(1), { first: 50, count: 50 })
  t.deepEqual(picker.pick(1), { first: 0, count: 50 })
})

/** A live run for prioritize(). */
function run(first: number, count: number, next = first): PickerRun {
  return { first, count, next, reason: null }
}

test('prioritize: a piece about to arrive changes nothing; one farther in a live run cuts that run', (t) => {
  const picker = new PiecePicker()
  picker.setPieceCount(1000)
  const a = run(100, 200, 110)
  t.deepEqual(picker.prioritize(113 * PS, PS, 0, [a], [a], []), { cut: [], cutAfter: null, pump: false })
  const plan = picker.prioritize(150 * PS, PS, 0, [a], [a], [])
  t.deepEqual(plan.cut, [a])
  t.true(plan.pump)
  // A stopped run is not live: it is neither cut again nor counted.
  t.deepEqual(picker.prioritize(150 * PS, PS, 0, [{ ...a, reason: 'priority' }], [], []).cut, [])
})

test('prioritize: a full fastest holder gives up its farthest run, never one serving another reader', (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 999 }),
      fc.array(fc.integer({ min: 0, max: 999 }), { maxLength: 4 }),
      (starts, p, waiting) => {
        // Runs of 10 pieces at 10 × start (disjoint, so p in none of them unless chosen so).
        const runs = starts.map((s) => run(s * 10, 10, s * 10 + 3))
        if (runs.some((r) => p >= r.first && p < r.first + r.count)) return true
        const picker = new PiecePicker()
        picker.setPieceCount(1000)
        const plan = picker.prioritize(p * PS, PS, 0, runs, runs, waiting)
        const serving = (r: PickerRun): boolean => waiting.some((w) => w !== p && w === r.next)
        const free = runs.filter((r) => !serving(r))
        if (!plan.pump) return false
        if (free.length) {
          const far = Math.max(...free.map((r) => Math.abs(r.next - p)))
          return plan.cut.length === 1 && !serving(plan.cut[0]!) && Math.abs(plan.cut[0]!.next - p) === far && plan.cutAfter === null
        }
        // Every run serves a reader: the farthest ends after its next piece; the priority gets a slot.
        return plan.cut.length === 0 && plan.cutAfter !== null && plan.cutAfter.at === plan.cutAfter.run.next + 1 && picker.slots(0) === 2
      }
    ),
    { numRuns: 300 }
  )
  t.pass()
})

test('slots and assign: RUNS_PER_SOURCE per holder, one while a player reads; holders filled in order', (t) => {
  const picker = new PiecePicker()
  picker.setPieceCount(10_000)
  t.is(picker.slots(0), RUNS_PER_SOURCE)
  const a = picker.assign([0, 1, RUNS_PER_SOURCE], 0)
  t.deepEqual(
    a.map((x) => x.holder),
    [0, 0, 1]
  )
  picker.prioritize(5000 * PS, PS, 1000, [], null, [])
  t.true(picker.streaming(1000 + STREAMING_MS - 1))
  t.is(picker.slots(1000 + STREAMING_MS - 1), 1)
  t.is(picker.slots(1000 + STREAMING_MS), RUNS_PER_SOURCE)
  const b = picker.assign([0, 0], 2000)
  t.deepEqual(
    b.map((x) => [x.holder, x.first]),
    [
      [0, 5000],
      [1, b[1]!.first]
    ]
  )
  // Nothing left: assign stops at once.
  const small = new PiecePicker()
  small.setPieceCount(3)
  t.deepEqual(small.assign([0, 0, 0], 0), [{ holder: 0, first: 0, count: 3 }])
  small.runEnded(0, 3)
  t.is(small.firstMissing(0), 0)
})

test('assign: never more runs than free slots, runs disjoint, every piece in flight when slots allow', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.array(fc.integer({ min: 0, max: RUNS_PER_SOURCE }), { minLength: 1, maxLength: 6 }), (n, live) => {
      const picker = new PiecePicker()
      picker.setPieceCount(n)
      const got = picker.assign(live, 0)
      const per = live.map(() => 0)
      const seen = new Set<number>()
      for (const a of got) {
        if (a.holder < 0 || a.holder >= live.length) return false
        per[a.holder]!++
        for (let i = a.first; i < a.first + a.count; i++) {
          if (seen.has(i) || i >= n) return false
          seen.add(i)
        }
      }
      if (per.some((k, h) => k + live[h]! > RUNS_PER_SOURCE)) return false
      // Either every free slot got a run, or no piece is missing any more.
      const free = live.reduce((s, k) => s + RUNS_PER_SOURCE - k, 0)
      return got.length === free || picker.complete()
    }),
    { numRuns: 300 }
  )
  t.pass()
})

test('duplicate (end game): none while a piece is missing; only pieces a live run still owes, never had, at most MAX_COPIES; every owed piece gets its copy; a released copy leaves the piece in flight', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (n, sources, had, advance, later) => {
        const picker = new PiecePicker()
        picker.setPieceCount(n)
        for (const h of had) picker.markHave(h % n)
        const first = picker.pick(sources)
        if (first && !picker.complete() && picker.duplicate([run(first.first, first.count)]) !== null) return false
        const runs: PickerRun[] = []
        for (let r = first; r; r = picker.pick(sources)) runs.push(run(r.first, r.count))
        // Runs received some pieces (next moves on), some stopped; other pieces arrived elsewhere.
        const live = runs.map((r, i) => {
          const k = advance[i] ?? 0
          return { ...r, next: r.first + (k % (r.count + 1)), reason: k % 7 === 6 ? 'priority' : null }
        })
        for (const h of later) picker.markHave(h % n)
        const owed = new Set<number>()
        for (const r of live) if (!r.reason) for (let i = r.next; i < r.first + r.count; i++) if (!picker.has(i)) owed.add(i)
        const dups: Array<{ first: number; count: number }> = []
        for (let d = picker.duplicate(live); d; d = picker.duplicate(live)) {
          if (dups.length > n) return false
          dups.push(d)
          if (!live.some((r) => !r.reason && d.first >= r.next && d.first + d.count <= r.first + r.count)) return false
          for (let i = d.first; i < d.first + d.count; i++) if (!owed.has(i) || picker.has(i) || picker.copiesOf(i) > MAX_COPIES) return false
        }
        for (const i of owed) if (picker.copiesOf(i) !== MAX_COPIES) return false
        for (const d of dups) {
          picker.release(d.first, d.first + d.count)
          for (let i = d.first; i < d.first + d.count; i++) if (!picker.inFlight(i) || picker.copiesOf(i) !== 1) return false
        }
        return true
      }
    ),
    { numRuns: 300 }
  )
  t.pass()
})
