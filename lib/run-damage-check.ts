// A LevelDB log that was truncated or garbled (a crash, a bad disk, a copy taken mid-write) is replayed up to the
// damage and the records after it are gone without an error: the channel then looks new and would be walked,
// and its files downloaded, again. progress.json, written beside the state by every run, is a second, independent
// record of each channel's cursor and count of saved files; a state that now holds less than it says has lost
// records. LevelDB's own info log tells when it dropped part of a log (droppedByOpen). The run warns loudly and
// goes on: files already in --out are re-adopted, not downloaded (lib/stages/adopt.ts).

import fs from 'node:fs/promises';
import path from 'node:path';
import type { ProgressFileReport } from './output/progress-file.js';
import type { ChannelRecord } from './types.js';
import { compareSnowflakes } from './util/snowflake.js';
import type { Store } from './store/store.js';

export interface LostChannel {
  guild_id: string;
  channel_id: string;
  name: string;
  detail: string; // what the state had and what it holds now
}

// The channels whose records in the state are behind what progress.json saw.
export async function lostRecords(previous: ProgressFileReport, store: Store): Promise<LostChannel[]> {
  const lost: LostChannel[] = [];
  for (const [guildId, server] of Object.entries(previous.servers)) {
    for (const [channelId, was] of Object.entries(server.channels ?? {})) {
      const now = await store.getChannel(channelId);
      const cursor = now?.last_message_id;
      const files = now?.total_images ?? 0;
      const cursorLost =
        was.last_message_id !== null && (cursor === undefined || compareSnowflakes(cursor, was.last_message_id) < 0) && !rewalkKnows(now, was.last_message_id);
      const filesLost = was.total_images > files;
      if (!cursorLost && !filesLost) continue;
      lost.push({
        guild_id: guildId,
        channel_id: channelId,
        name: was.name,
        detail:
          `progress.json (${previous.updated_at}) recorded ${was.total_images} saved file(s) and cursor ${was.last_message_id ?? 'none'}, ` +
          `the state now holds ${files} and cursor ${cursor ?? 'none'}`,
      });
    }
  }
  return lost;
}

// A cursor reset on purpose (a filter_widened re-walk, Store.restartWalk) is not a loss: the channel's `rewalk`
// record keeps where the walk had got to, so a state that reached `cursor` before the reset still says so.
function rewalkKnows(record: ChannelRecord | undefined, cursor: string): boolean {
  const rewalk = record?.rewalk;
  if (rewalk === undefined) return false;
  return [rewalk.below, rewalk.above?.to].some((top) => top !== undefined && compareSnowflakes(top, cursor) >= 0);
}

// LevelDB replays a damaged log up to each bad block and says so only in its info log (<state>/LOG, rewritten at
// every open): "(ignoring error) …/000005.log: dropping 32768 bytes; Corruption: checksum mismatch". Read right
// after the open, it tells that records were lost, though not which. Undefined when nothing was dropped.
export async function droppedByOpen(state: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(path.resolve(state), 'LOG'), 'utf8');
  } catch {
    return undefined;
  }
  const dropped = [...text.matchAll(/dropping (\d+) bytes; (Corruption: [^\n]*)/g)];
  if (dropped.length === 0) return undefined;
  const bytes = dropped.reduce((sum, match) => sum + Number(match[1]), 0);
  return `LevelDB dropped ${bytes} bytes of its log when opening the state (${dropped[0]![2]!.trim()})`;
}

// After records were lost somewhere: every channel's history is walked again from its beginning (the cursors
// are reset durably, counters kept), so each lost record is found again; files in --out are re-adopted.
export async function rewalkAll(store: Store, signal?: AbortSignal): Promise<number> {
  const reset: ChannelRecord[] = [];
  for await (const channel of store.channels(signal)) {
    if (channel.last_message_id === undefined && channel.done_above === undefined) continue;
    const next: ChannelRecord = { ...channel, last_message_id: undefined };
    delete next.done_above;
    reset.push(next);
  }
  for (const channel of reset) await store.putChannel(channel);
  return reset.length;
}
