// `dps follow --help` describes every flag follow takes: the scrape flags of the README's table and follow's
// own (README "`follow` flags": `follow --poll-interval`, `follow --status-interval`), each with its description.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/harness.js';
import { runDps, stackLines } from './helpers.js';

t.test('dps follow --help lists every flag of the README, its own described', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const scrapeFlags = [...readme.matchAll(/^\| `(--[a-z-]+)/gm)].map((m) => m[1]!);
  const followFlags = [...readme.matchAll(/^\| `follow (--[a-z-]+)/gm)].map((m) => m[1]!);
  t.same(followFlags, ['--poll-interval', '--status-interval'], 'the README documents follow’s own flags');
  const run = await runDps(['follow', '--help']);
  t.equal(run.code, 0, 'exit 0');
  t.same(stackLines(run.stderr), []);
  const listed = (flag: string): boolean => run.stdout.includes(flag) || (flag.startsWith('--no-') && run.stdout.includes(`--${flag.slice(5)}`));
  t.same(
    scrapeFlags.filter((flag) => !listed(flag)),
    [],
    'every scrape flag of the README',
  );
  t.match(run.stdout, /--poll-interval\s+user tokens \(no Gateway\)/, '--poll-interval is described');
  t.match(run.stdout, /--status-interval\s+print a line with the totals/, '--status-interval is described');
});
