// Bad values of the selecting flags through the built CLI: each is one stderr line (exit 2) that names the flag
// and shows what the user typed, before any request reaches Discord or anything is written.

import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, firstTarget, runDps, stackLines, stderrLines } from './helpers.js';

const bad: Array<[string[], string]> = [
  [['--author', 'alice'], '--author must be a Discord id (a number like 123456789012345678), got "alice"'],
  [['--author', '123', '--author', '12x'], '--author must be a Discord id (a number like 123456789012345678), got "12x"'],
  [['--exclude-author', '-1'], '--exclude-author must be a Discord id (a number like 123456789012345678), got "-1"'],
  [['--min-size', '10XB'], '--min-size must be a size like 25MB or 800KiB, got "10XB"'],
  [['--max-size', 'big'], '--max-size must be a size like 25MB or 800KiB, got "big"'],
  [['--min-width', 'wide'], '--min-width must be a whole number of pixels like 800, got "wide"'],
  [['--min-width', '-5'], '--min-width must be a whole number of pixels like 800, got "-5"'],
  [['--min-height', '1.5'], '--min-height must be a whole number of pixels like 800, got "1.5"'],
  [['--spoilers', 'maybe'], '--spoilers must be include, exclude or only, got "maybe"'],
];

t.test('a bad selecting flag is a one-line usage error that shows the value', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 66, messages: 5 }) });
  const { G, C } = firstTarget(fake);
  for (const [flags, message] of bad) {
    const dir = t.testdir();
    const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state'), ...flags], {
      env: { DISCORD_TOKEN: fake.token },
    });
    t.equal(run.code, 2, `${flags.join(' ')}: exit 2`);
    const lines = stderrLines(run.stderr);
    t.equal(lines.length, 1, `${flags.join(' ')}: one stderr line, got ${JSON.stringify(run.stderr)}`);
    t.match(lines[0] ?? '', message, `${flags.join(' ')}: names the flag and the value`);
    t.same(stackLines(run.stderr), [], 'no stack trace');
    t.notOk(existsSync(join(dir, 'state')) || existsSync(join(dir, 'out')), 'nothing written');
  }
  t.equal(fake.requests.length, 0, 'no request reached the fake');
});

t.test('--help describes every selecting flag', async (t) => {
  const run = await runDps(['scrape', '--help']);
  t.equal(run.code, 0);
  for (const flag of ['--author', '--exclude-author', '--exclude-bots', '--min-size', '--min-width', '--min-height', '--spoilers']) {
    const line = run.stdout.split('\n').find((l) => l.trimStart().startsWith(`${flag} `));
    t.ok(line !== undefined && /[a-z]{3,}/.test(line.slice(line.indexOf(flag) + flag.length).replace(/\[[^\]]*\]/g, '')), `${flag} is described`);
  }
});
