// `--channel-id -`: channel ids from stdin, one per line, either bare ids or NDJSON objects with an `id`
// field (what `dps channels` prints), so `dps channels ... | jq 'select(.readable)' | dps scrape --channel-id -` works.

import { createInterface } from 'node:readline';
import { UsageError } from '../lib/index.js';

export async function readChannelIds(input: NodeJS.ReadableStream): Promise<string[]> {
  const ids: string[] = [];
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber++;
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('{')) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new UsageError(`stdin line ${lineNumber} is not valid JSON`);
      }
      const id = (value as { id?: unknown; channel_id?: unknown }).id ?? (value as { channel_id?: unknown }).channel_id;
      if (typeof id !== 'string') throw new UsageError(`stdin line ${lineNumber} has no "id" field`);
      ids.push(id);
    } else {
      ids.push(...line.split(/[\s,]+/).filter(Boolean));
    }
  }
  return ids;
}
