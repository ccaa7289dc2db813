// The output folder must take files before any is downloaded: a read-only mount, a folder without permission
// or a regular file given as --out is one clear DPS_OUTPUT error up front (and, met later under a sub-folder,
// the same error stops the run), never a "network" failure retried for every file.

import fs from 'node:fs/promises';
import path from 'node:path';
import { DiskFullError, hasCode, isDiskFull, OutputError, outputErrorKind } from '../errors.js';
import type { DpsError } from '../errors.js';
import { CREATE_FLAGS, tempName } from './atomic-write.js';

const WHY: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a path component is a file, not a folder',
  EEXIST: 'a file is in the way of a folder',
};

// The run-stopping error for a local write failure under `out`.
export function outputError(out: string, error: unknown): DpsError {
  if (hasCode(error, 'DPS_OUTPUT')) return error;
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const why = WHY[code] ?? (error instanceof Error ? error.message : String(error));
  return new OutputError(`cannot write to the output folder ${out}: ${why}${code && WHY[code] ? ` (${code})` : ''}; fix --out and re-run`, { cause: error });
}

// Creates `out` if needed and creates + removes one empty temp file in it (named like the run's own temp files,
// so a crash in between leaves nothing the next run does not clean up).
export async function checkOutputWritable(out: string): Promise<void> {
  const existing = await fs.stat(out).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory())
    throw new OutputError(`cannot write to the output folder ${out}: it is a file, not a folder; fix --out and re-run`);
  try {
    await makeFolder(out);
    const probe = tempName(out);
    const handle = await fs.open(probe, CREATE_FLAGS, 0o600);
    await handle.close();
    await fs.rm(probe, { force: true });
  } catch (error) {
    if (isDiskFull(error)) throw new DiskFullError(`disk full: no space left in ${out}; free some space and re-run to resume`, { cause: error });
    if (outputErrorKind(error) !== undefined) throw outputError(out, error);
    throw error;
  }
}

// mkdir -p that reports the real reason: Node's recursive mkdir answers ENOENT where a missing component cannot
// be created (under a read-only mount, say), so on ENOENT the components are created one at a time, and the
// first that fails says why (EROFS, EACCES, ...).
export async function makeFolder(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'ENOENT') throw error;
    const absolute = path.resolve(dir);
    const parts = absolute.split(path.sep).filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      await fs.mkdir(path.sep + parts.slice(0, i).join(path.sep)).catch((step: unknown) => {
        if ((step as { code?: unknown } | null)?.code !== 'EEXIST') throw step;
      });
    }
  }
}
