/**
 * Wires a Tracker to its message table. tracker.ts does not import handlers.ts (whose handlers
 * take the Tracker), so the two do not form an import circle; this is the one place that joins them.
 */
import { createTrackerHandlers } from './handlers.ts'
import { Tracker, type TrackerOptions } from './tracker.ts'

/** Build (not start) a tracker serving the §7 messages. */
export function createTracker(opts: TrackerOptions): Tracker {
  return new Tracker(opts, createTrackerHandlers)
}
