// dps stats end to end: after a scrape, the counts and bytes equal what the run announced and what is on disk
// (bytes_on_disk: the distinct files' sizes; duplicates are hard links), NDJSON when piped, a table when asked,
// read-only (a folder without a state is refused, exit 5, nothing created).

import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { listFiles } from '../helpers/harness.js';
import { channelArgs, fakeFor, firstTarget, ofEvent, runDps, stderrLines } from './helpers.js';

t.test('stats counts what scrape archived', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 31, messages: 40, imageRatio: 0.5, sizes: [2_000, 30_000], special: ['duplicates'] }) });
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const scrape = await runDps(channelArgs(fake, out, state), { env: { DISCORD_TOKEN: fake.token } });
  t.equal(scrape.code, 0, `scrape exit 0 (stderr: ${scrape.stderr})`);
  const saved = scrape.lines.filter(ofEvent('saved'));
  const duplicates = saved.filter((e) => e.duplicate_of !== undefined);
  t.ok(duplicates.length > 0, `the scenario has duplicates (${duplicates.length})`);
  // What is on disk: each inode once.
  const inodes = new Map<number, number>();
  for (const rel of await listFiles(out)) {
    const st = statSync(join(out, rel));
    inodes.set(st.ino, st.size);
  }
  const onDisk = [...inodes.values()].reduce((a, b) => a + b, 0);
  const posted = saved.reduce((sum, e) => sum + (e.bytes as number), 0);
  const { G, C } = firstTarget(fake);

  t.test('--by channel, piped: NDJSON, one line per channel and the total', async (t) => {
    const run = await runDps(['stats', '--state', state]);
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
    t.equal(run.stderr, '');
    const [channel, total, ...rest] = run.lines;
    t.same(rest, []);
    t.match(channel, {
      by: 'channel',
      key: C,
      name: 'general',
      guild_id: G,
      files: saved.length,
      duplicates: duplicates.length,
      failed: 0,
      bytes: posted,
      bytes_on_disk: onDisk,
    });
    t.match(total, { by: 'total', key: 'all', name: null, files: saved.length, bytes: posted, bytes_on_disk: onDisk });
    const times = saved.map((e) => Date.parse(e.timestamp as string)).sort((a, b) => a - b);
    t.equal(Date.parse(channel?.first_post as string), times[0], 'first post: the oldest saved file');
    t.equal(Date.parse(channel?.last_post as string), times.at(-1), 'last post: the newest');
  });

  t.test('--by month and --by type add up to the total', async (t) => {
    for (const by of ['month', 'type', 'author']) {
      const run = await runDps(['stats', '--state', state, '--by', by, '--server-id', G]);
      t.equal(run.code, 0, `--by ${by}: exit 0`);
      const groups = run.lines.filter((l) => l.by === by);
      t.ok(groups.length >= 1, `--by ${by}: ${groups.length} groups`);
      t.equal(
        groups.reduce((s, g) => s + (g.files as number), 0),
        saved.length,
        `--by ${by}: the groups add up to every file`,
      );
      t.equal(run.lines.at(-1)?.bytes, posted, `--by ${by}: total bytes`);
    }
  });

  t.test('--format table: aligned columns, the total last', async (t) => {
    const run = await runDps(['stats', '--state', state, '--format', 'table', '--channel-id', C]);
    t.equal(run.code, 0);
    const lines = run.stdout.trimEnd().split('\n');
    t.equal(lines.length, 3, 'header, channel, total');
    t.match(lines[0]!, /^CHANNEL\s+ID\s+FILES\s+DUPLICATES/);
    t.match(lines[1]!, new RegExp(`^general\\s+${C}\\s+${saved.length}\\s+${duplicates.length}\\s`));
    t.match(lines[2]!, /^total\s+\d+/);
    const end = lines[0]!.indexOf('FILES') + 'FILES'.length;
    t.match(lines[1]!.slice(0, end), new RegExp(`\\s${saved.length}$`), 'counts end under their header (right-aligned)');
  });

  t.test('another server or channel: only the total, zero', async (t) => {
    const run = await runDps(['stats', '--state', state, '--server-id', '123456789012345678']);
    t.equal(run.code, 0);
    t.match(run.lines, [{ by: 'total', files: 0, bytes: 0, first_post: null }]);
  });
});

t.test('stats is read-only: a folder without a state is refused, nothing created', async (t) => {
  const dir = t.testdir();
  const missing = join(dir, 'typo');
  const run = await runDps(['stats', '--state', missing]);
  t.equal(run.code, 5, 'exit 5');
  t.equal(stderrLines(run.stderr).length, 1, 'one line');
  t.match(run.stderr, /no dps state/);
  t.notOk(existsSync(missing), 'nothing created');
});
