// A run's progress.json (lib/output/progress-file.ts) and the check it makes possible at the start of the next
// run: a state that lost records it had is reported on stderr and as a `warning` event (`state_damaged`).

import type { ArchiveHooks, NormalizedOptions } from './options.js';
import { ProgressFile, readProgressFile } from './output/progress-file.js';
import { lostRecords } from './store/damage-check.js';
import type { Store } from './store/store.js';

// Compares the state with the previous run's progress.json, then starts keeping progress.json for this run.
export async function startProgressFile(store: Store, options: NormalizedOptions, hooks: ArchiveHooks, signal: AbortSignal): Promise<ProgressFile | undefined> {
  if (hooks.progressFile === false) return undefined;
  const previous = await readProgressFile(options.state);
  if (previous !== undefined) {
    for (const lost of await lostRecords(previous, store)) {
      const detail =
        `the state lost records of #${lost.name} (${lost.channel_id}): ${lost.detail}; its history is walked again and ` +
        `files already in --out are re-adopted (hashed), not downloaded again`;
      hooks.log?.(`warning: ${detail}`);
      hooks.emit?.({ event: 'warning', code: 'state_damaged', guild_id: lost.guild_id, channel_id: lost.channel_id, detail });
    }
  }
  let warned = false;
  const onError = (error: unknown): void => {
    if (warned) return;
    warned = true;
    hooks.log?.(`warning: cannot write progress.json beside the state: ${error instanceof Error ? error.message : String(error)}`);
  };
  const file = new ProgressFile(store, options.state, { onError, ...(hooks.progressFile ?? {}) });
  await file.start(signal);
  return file;
}
