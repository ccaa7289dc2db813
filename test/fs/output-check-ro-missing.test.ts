// `--out` (or `--state`) that does not exist yet, under a read-only mount: Node's recursive mkdir reports ENOENT
// (not EROFS) there, so checkOutputWritable lets it through as a plain error and the CLI prints
// "dps: internal error: ENOENT: no such file or directory, mkdir …" with no summary line. Required (issue 20
// item 4): DPS_OUTPUT, one clear line, a summary, exit 1.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { OutputError } from '../../lib/errors.js';
import { checkOutputWritable } from '../../lib/fs/output-check.js';
import { tmpfsFolder } from '../helpers/tmpfs.js';

t.test('a missing --out folder under a read-only mount is DPS_OUTPUT, not an internal ENOENT', async (t) => {
  const tmpfs = tmpfsFolder(t, 'dps-ro-missing-', 'ro', '64k');
  if (tmpfs === undefined) return;
  const { mount: ro } = tmpfs;
  execFileSync('mount', ['-o', 'remount,ro', ro]);
  for (const out of [join(ro, 'downloads'), join(ro, 'a', 'b')]) {
    const error = await checkOutputWritable(out).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(error instanceof OutputError, `${out}: an OutputError (got ${String((error as Error | undefined)?.message)})`);
    t.match(String((error as Error | undefined)?.message), /read-only|EROFS/, 'it names the read-only file system');
  }
});
