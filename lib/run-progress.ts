// A run's progress.json (lib/output/progress-file.ts) and the check it makes possible at the start of the next
// run: a state that lost records it had is reported on stderr and as a `warning` event (`state_damaged`); when
// LevelDB says it dropped part of its log, every channel is walked again (see lib/run-damage-check.ts).

import type { ArchiveHooks, NormalizedOptions } from './options.js';
import { ProgressFile, markRecovering, readProgressFile } from './output/progress-file.js';
import { droppedByOpen, lostRecords, rewalkAll } from './run-damage-check.js';
import type { Store } from './store/store.js';
import { terminalSafe } from './output/terminal-safe.js';

// Compares the state with the previous run's progress.json, then starts keeping progress.json for this run.
// `damaged`: the state lost records, so files already in --out may be re-adopted (lib/stages/adopt.ts). A
// damaged state is marked `recovering` in progress.json before anything is announced, and stays marked until a
// run completes without being stopped (ProgressFile.recovered): an interrupted recovery is resumed next time.
export async function startProgressFile(
  store: Store,
  options: NormalizedOptions,
  hooks: Pick<ArchiveHooks, 'log' | 'emit' | 'progressFile'>,
  signal: AbortSignal,
  dryRunCopy?: string | undefined, // a dry run's copy of the state (store/open.ts openStoreCopy): see below
): Promise<{ file?: ProgressFile; damaged: boolean }> {
  if (hooks.progressFile === false) return { damaged: false };
  const warnings: { detail: string; guild_id?: string; channel_id?: string }[] = [];
  const previous = await readProgressFile(options.state);
  if (previous?.recovering === true) {
    warnings.push({
      detail:
        `an earlier run found the state damaged and was stopped before it completed (progress.json ${previous.updated_at}); ` +
        `the recovery continues: files already in --out are re-adopted (hashed), not downloaded again`,
    });
  }
  if (previous !== undefined) {
    for (const lost of await lostRecords(previous, store)) {
      const detail =
        `the state lost records of #${terminalSafe(lost.name)} (${lost.channel_id}): ${lost.detail}; its history is walked again and ` +
        `files already in --out are re-adopted (hashed), not downloaded again`;
      warnings.push({ detail, guild_id: lost.guild_id, channel_id: lost.channel_id });
    }
  }
  // A dry run opened a copy of the state: that open's LevelDB LOG tells what a real run's open would drop. It
  // marks nothing and keeps no progress.json; the re-walk of a damaged state is made in the copy.
  const dropped = await droppedByOpen(dryRunCopy ?? options.state);
  if (dryRunCopy === undefined && (warnings.length > 0 || dropped !== undefined)) await markRecovering(options.state, previous).catch(() => undefined);
  if (dropped !== undefined) {
    const channels = await rewalkAll(store, signal);
    const detail =
      `the state is damaged: ${dropped}; records of any channel may be lost, so the history of its ${channels} channel(s) ` +
      `is walked again from the beginning: files already in --out are re-adopted (hashed), not downloaded again, and may be announced again`;
    warnings.push({ detail });
  }
  const damaged = warnings.length > 0;
  for (const { detail, ...where } of warnings) {
    hooks.log?.(`warning: ${detail}`);
    void hooks.emit?.({ event: 'warning', code: 'state_damaged', ...where, detail });
  }
  if (dryRunCopy !== undefined) return { damaged };
  let warned = false;
  const onError = (error: unknown): void => {
    if (warned) return;
    warned = true;
    hooks.log?.(`warning: cannot write progress.json beside the state: ${error instanceof Error ? error.message : String(error)}`);
  };
  // The command it names to processes the state's lock refuses (state-holder.ts); a follow says so (follow.ts, index.ts).
  const command = options.retryOnly ? 'retry-failed' : 'scrape';
  const file = new ProgressFile(store, options.state, { onError, recovering: damaged, command, ...(hooks.progressFile ?? {}) });
  await file.start(signal);
  return { file, damaged };
}
