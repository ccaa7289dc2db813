// How a run ends, decided from plain data: which error stopped it, whether it ends with a summary event, and its
// exit code. Pure functions, so the whole table is tested without running anything (test/run-exit.test.ts).

import { AbortedError, ExitCode, isDpsError } from './errors.js';
import type { DpsError } from './errors.js';

// The error that stopped the run, from what was thrown: the --max-wait stop that came first, an abort (whatever
// it surfaced as, unless a DpsError of its own), or a DpsError. Undefined: not ours (a bug), to be rethrown.
export function fatalOf(thrown: unknown, stopped: DpsError | undefined, aborted: boolean): DpsError | undefined {
  if (stopped) return stopped;
  if (aborted && !(isDpsError(thrown) && thrown.code !== 'DPS_ABORTED')) return new AbortedError('aborted', { cause: thrown });
  return isDpsError(thrown) ? thrown : undefined;
}

// False when the run fails outright (the error is thrown, no summary): an error before any channel started, except
// a stop (abort, --max-wait) and local storage errors (an unusable --out, a full disk), which end with a summary.
export function endsWithSummary(fatal: DpsError | undefined, channelsStarted: number): boolean {
  if (fatal === undefined || channelsStarted > 0) return true;
  return ['DPS_ABORTED', 'DPS_RATE_LIMIT', 'DPS_OUTPUT', 'DPS_DISK_FULL'].includes(fatal.code);
}

export interface RunOutcome {
  fatal?: DpsError | undefined; // the error that stopped the run
  accessDenied: boolean; // a requested channel could not be read (it was skipped)
  failed: number; // files that failed
  stopReason?: unknown; // why the caller stopped the run (its signal's reason)
}

// 0 ok; 1 some files failed; 4 a channel could not be read; the fatal error's own code when higher; on an abort
// the caller's (SIGINT 130, SIGTERM 143, a closed stdout 0; 130 when it gave none).
export function exitCodeOf(outcome: RunOutcome): number {
  const { fatal } = outcome;
  if (fatal?.code === 'DPS_ABORTED') return isDpsError(outcome.stopReason) ? outcome.stopReason.exitCode : ExitCode.interrupted;
  const code = outcome.accessDenied ? ExitCode.access : outcome.failed > 0 ? ExitCode.partial : ExitCode.ok;
  return fatal ? Math.max(code, fatal.exitCode) : code;
}
