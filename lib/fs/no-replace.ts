// Giving a finished temp file its final name WITHOUT ever replacing a file that is already there: two
// attachments that render to one name, a user's own file in --out, or a file this archive does not know must
// never be overwritten. link(temp, final) fails with EEXIST when the name is taken (and never follows a symlink
// there), then the temp name is unlinked. A name held by a file with exactly the same bytes is adopted (a
// crashed run renamed it there before its record was written); any other holder makes the name `taken`, and
// the caller tries its next candidate name with the same temp file. Where the file system has no hard links,
// a check then rename stands in (it could only lose a race against another process writing that very name).
// Run by the disk thread (disk-thread-worker.ts), synchronously.

import { createHash } from 'node:crypto';
import fs from 'node:fs';

// What placing a temp file did: it is at the final name (placed, or an identical file was there: adopted),
// or the name is held by something else and the temp file is still where it was.
export type Placement = 'placed' | 'taken';

// link() is impossible on this file system (or for this file): fall back to check-then-rename.
export const NO_LINK: ReadonlySet<unknown> = new Set<unknown>(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

// What holds a final name: nothing, a symlink (the caller refuses), the same bytes, or something else.
export type Holder = 'none' | 'symlink' | 'same' | 'other';

function hashFileSync(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    for (let read = fs.readSync(fd, buffer); read > 0; read = fs.readSync(fd, buffer)) hash.update(buffer.subarray(0, read));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

// Who holds `finalPath`, compared with the temp file (its sha256 when known, else it is hashed).
export function holderSync(tempPath: string, finalPath: string, sha256: string | undefined): Holder {
  const existing = fs.lstatSync(finalPath, { throwIfNoEntry: false });
  if (existing === undefined) return 'none';
  if (existing.isSymbolicLink()) return 'symlink';
  if (!existing.isFile() || existing.size !== fs.statSync(tempPath).size) return 'other';
  const theirs = hashFileSync(finalPath);
  return theirs === (sha256 ?? hashFileSync(tempPath)) ? 'same' : 'other';
}

// Places tempPath at finalPath unless finalPath is held (see the top of this file). `onSymlink` builds the
// error thrown when a symlink holds the name (the temp file is left for the caller to remove).
export function placeSync(tempPath: string, finalPath: string, sha256: string | undefined, onSymlink: () => Error): Placement {
  try {
    fs.linkSync(tempPath, finalPath);
  } catch (error) {
    const code = codeOf(error);
    if (code !== 'EEXIST' && !NO_LINK.has(code)) throw error;
    const held = holderSync(tempPath, finalPath, sha256);
    if (held === 'symlink') throw onSymlink();
    if (held === 'other') return 'taken';
    if (held === 'none')
      fs.renameSync(tempPath, finalPath); // no hard links here: nothing was there a moment ago
    else fs.unlinkSync(tempPath); // the same bytes are there already: adopt them
    return 'placed';
  }
  fs.unlinkSync(tempPath);
  return 'placed';
}
