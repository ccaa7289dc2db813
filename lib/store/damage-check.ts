// A LevelDB log that was truncated or garbled (a crash, a bad disk, a copy taken mid-write) is replayed up to the
// damage and the records after it are gone without an error: the channel then looks new and would be walked,
// and its files downloaded, again. progress.json, written beside the state by every run, is a second, independent
// record of each channel's cursor and count of saved files; a state that now holds less than it says has lost
// records. The run warns loudly and goes on: files already in --out are re-adopted, not downloaded (adopt.ts).

import type { ProgressFileReport } from '../output/progress-file.js';
import { compareSnowflakes } from './state.js';
import type { Store } from './store.js';

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
      const cursorLost = was.last_message_id !== null && (cursor === undefined || compareSnowflakes(cursor, was.last_message_id) < 0);
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
