// Typed views of a run's events: eventsOf(events, 'saved') is a SavedEvent[], with no cast in the test.
import type { DpsEvent } from '../../lib/output/events.js';

export type EventOf<K extends DpsEvent['event']> = Extract<DpsEvent, { event: K }>;

// The events of one kind, typed as that kind.
export function eventsOf<K extends DpsEvent['event']>(events: readonly DpsEvent[], kind: K): EventOf<K>[] {
  return events.filter((event): event is EventOf<K> => event.event === kind);
}
