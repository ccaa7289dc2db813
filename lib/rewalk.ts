// Before a channel's history pass: compare this run's filter with the one its cursor was walked with. A run that
// selects more (a type, a larger or no --max-size, --embeds, --stickers, another or no --author, fewer
// --exclude-author, no --exclude-bots, a smaller or no --min-size/--min-width/--min-height, other --spoilers)
// walks the history again from the start, downloading only what is missing (lib/store/walked-with.ts); a record
// from a dps that did not keep the filter is taken as walked with this run's (no surprise re-walk of a long
// channel), and the user is told once.

import type { DpsEvent } from './output/events.js';
import type { Store } from './store/store.js';
import { widening } from './store/walked-with.js';
import type { ChannelContext, ChannelRecord, WalkFilter } from './types.js';
import { terminalSafe } from './output/terminal-safe.js';

export interface ReconcileHooks {
  log?: ((line: string) => void) | undefined;
  emit?: ((event: DpsEvent) => void) | undefined;
}

// The channel record the history pass starts from (restarted when the filter widens).
export async function reconcileFilter(
  store: Store,
  context: ChannelContext,
  record: ChannelRecord | undefined,
  filter: WalkFilter,
  hooks: ReconcileHooks,
): Promise<ChannelRecord | undefined> {
  if (record === undefined || (record.last_message_id === undefined && record.done_above === undefined)) return record;
  const where = `#${terminalSafe(context.channel_name)} (${context.channel_id})`;
  const warn = (code: string, detail: string): void => {
    hooks.log?.(`${where}: ${detail}`);
    hooks.emit?.({ event: 'warning', code, guild_id: context.guild_id, channel_id: context.channel_id, detail });
  };
  if (record.walked_with === undefined) {
    warn(
      'filter_unknown',
      "earlier runs did not record their filter (older dps); assuming they used this run's filters (--types, --max-size, --author, --min-size, --spoilers, ...). " +
        'If they selected less, re-run once with --from-start to fetch the files they skipped',
    );
    return store.advanceCursor(context.channel_id, undefined, { walked_with: filter });
  }
  const more = widening(record.walked_with, filter);
  if (more.length === 0) return record;
  warn(
    'filter_widened',
    `this run selects more than the history was walked with (${more.join(', ')}): walking the whole history again; ` +
      'only missing files are downloaded, archived ones are not announced again',
  );
  return store.restartWalk(context.channel_id, filter);
}
