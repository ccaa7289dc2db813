// `dps scrape` end to end: the built CLI against the fake Discord. Every stdout line is a documented NDJSON
// event, the archive matches the fake byte for byte, the token sources (--token, DISCORD_TOKEN, .env) and the
// stderr switches (--token-type user warning, --quiet, --progress) behave as the README says, and the token
// never leaks into output or files.

import t from 'tap';
import type { Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect, listFiles, sha256File } from '../helpers/harness.js';
import { regexChar } from '../helpers/regex-escape.js';
import { allFileBytes, fakeFor, firstTarget, ofEvent, rawLines, runDps, schemaProblems, stackLines } from './helpers.js';
import type { Finished, Line } from './helpers.js';

// ~50 messages: photos, re-posted bytes (duplicates), non-images and missing content types (mixed).
const scenario = () => singleChannel({ seed: 5, messages: 50, imageRatio: 0.4, sizes: [2_000, 60_000], special: ['duplicates', 'mixed'] });
const isPhoto = (a: { content_type?: string | undefined; filename: string }): boolean =>
  a.content_type ? /^image\/(png|jpe?g|gif|webp)$/.test(a.content_type) : /\.(png|jpe?g|gif|webp)$/i.test(a.filename);
const MAX = 50_000;

// Checks the whole stdout of a run against the contract; returns the parsed lines.
function checkStdout(t: Test, run: Finished): Line[] {
  t.ok(run.stdout === '' || run.stdout.endsWith('\n'), 'stdout ends with a newline');
  const lines = rawLines(run.stdout);
  const problems = lines.flatMap((line, i) => schemaProblems(line).map((p) => `line ${i + 1}: ${p}`));
  t.same(problems, [], 'every stdout line is a documented NDJSON event');
  return lines.filter((l): l is Line => l !== null);
}

// The saved ids expected with the default photo types and --max-size 50KB.
async function expectedSaved(fake: FakeDiscord, channelId: string): Promise<Set<string>> {
  const all = await collect(fake.expected({ channelId }));
  return new Set(all.filter((a) => isPhoto(a) && a.size <= MAX).map((a) => a.attachment_id));
}

t.test('the schema checker itself rejects bad events', async (t) => {
  const good = {
    event: 'saved',
    guild_id: '1',
    channel_id: '2',
    message_id: '3',
    attachment_id: '4',
    filename: 'a.png',
    path: '/x/a.png',
    bytes: 1,
    sha256: 'a'.repeat(64),
    content_type: null,
    timestamp: '2024-01-31T12:00:00.000000+00:00',
    source: 'attachment',
  };
  t.same(schemaProblems(good), [], 'a good saved event passes');
  t.same(schemaProblems({ ...good, duplicate_of: '/x/b.png' }), [], 'optional duplicate_of passes');
  t.ok(schemaProblems({ ...good, sha256: 'abc' }).length, 'short sha256 fails');
  t.ok(schemaProblems({ ...good, timestamp: 'yesterday' }).length, 'non-ISO timestamp fails');
  t.ok(schemaProblems({ ...good, source: 'web' }).length, 'unknown source fails');
  t.ok(schemaProblems({ ...good, content_type: 3 }).length, 'numeric content_type fails');
  t.ok(schemaProblems({ ...good, bytes: '1' }).length, 'string bytes fails');
  t.ok(schemaProblems({ ...good, token: 'x' }).length, 'an undocumented field fails');
  const { path: _path, ...missing } = good;
  t.ok(schemaProblems(missing).length, 'a missing field fails');
  t.ok(schemaProblems({ event: 'hello' }).length, 'an undocumented event fails');
  t.ok(schemaProblems(null).length, 'a non-object line fails');
  t.ok(
    schemaProblems({
      event: 'summary',
      channels: 1,
      messages: 0,
      saved: 0,
      duplicates: 0,
      skipped: 0,
      failed: 0,
      bytes: 0,
      elapsed_ms: 1,
      exit_code: 0,
      per_channel: [{ channel_id: 'x' }],
    }).length,
    'a bad per_channel entry fails',
  );
});

t.test('a full scrape through the CLI prints only documented events and archives the channel exactly', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const run = await runDps(['scrape', '--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--max-size', '50KB'], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  const lines = checkStdout(t, run);
  t.same(stackLines(run.stderr), [], 'no stack trace on stderr');
  t.notMatch(run.stderr, new RegExp(String.raw`${regexChar(0x1b)}\[2K`), 'no progress line when stderr is not a TTY');

  const expected = await collect(fake.expected({ channelId: C }));
  const byId = new Map(expected.map((a) => [a.attachment_id, a]));
  const saved = lines.filter(ofEvent('saved'));
  const skipped = lines.filter(ofEvent('skipped'));
  const wantSaved = await expectedSaved(fake, C);
  t.ok(wantSaved.size >= 10, `the scenario has ${wantSaved.size} photos to save`);
  t.same(saved.map((s) => s.attachment_id).sort(), [...wantSaved].sort(), 'exactly the photos up to 50 KB are saved');
  t.equal(new Set(saved.map((s) => s.attachment_id)).size, saved.length, 'no attachment saved twice');
  t.equal(saved.length + skipped.length, expected.length, 'every attachment is either saved or skipped');
  t.same([...new Set(skipped.map((s) => s.reason))].sort(), ['too_large', 'type'], 'skipped for type and size');
  t.ok(
    saved.some((s) => s.content_type === null),
    'an attachment without content type is saved with content_type null',
  );
  t.ok(
    saved.some((s) => typeof s.duplicate_of === 'string'),
    'a re-posted file carries duplicate_of',
  );

  let exact = 0;
  for (const s of saved) {
    const want = byId.get(String(s.attachment_id));
    const onDisk = await sha256File(String(s.path)).catch(() => 'missing');
    if (
      want &&
      s.sha256 === want.sha256 &&
      s.bytes === want.size &&
      onDisk === want.sha256 &&
      s.message_id === want.message_id &&
      s.guild_id === G &&
      s.channel_id === C &&
      s.source === 'attachment'
    )
      exact++;
    else t.fail(`saved event does not match the fake: ${JSON.stringify(s)}`);
    t.notOk(relative(out, String(s.path)).startsWith('..'), 'path inside --out');
  }
  t.equal(exact, saved.length, 'every saved file is byte-identical to the fake and its event carries the right ids');
  for (const s of skipped) {
    const want = byId.get(String(s.attachment_id));
    t.ok(want, `skipped event names a real attachment: ${String(s.attachment_id)}`);
    if (s.reason === 'too_large') t.ok(want && want.size > MAX, 'too_large only for files over --max-size');
    if (s.reason === 'type') t.notOk(want && isPhoto(want), 'type only for non-photos');
  }
  const files = await listFiles(out);
  t.equal(files.length, saved.length, 'one file per saved event, nothing else (no temp files)');

  const done = lines.filter(ofEvent('channel_done'));
  t.equal(done.length, 1, 'one channel_done');
  t.equal(done[0]?.complete, true, 'channel complete');
  t.equal(done[0]?.saved, saved.length, 'channel_done.saved counts the saved events');
  t.equal(done[0]?.skipped, skipped.length, 'channel_done.skipped counts the skipped events');
  t.equal(done[0]?.duplicates, saved.filter((s) => s.duplicate_of !== undefined).length, 'channel_done.duplicates counts duplicate_of');
  const maxMessage = expected.reduce((m, a) => (BigInt(a.message_id) > m ? BigInt(a.message_id) : m), 0n);
  t.ok(BigInt(String(done[0]?.cursor)) >= maxMessage, 'the cursor is at or past the newest message with a file');

  const summary = lines.at(-1);
  t.equal(summary?.event, 'summary', 'summary is the last line');
  t.equal(lines.filter(ofEvent('summary')).length, 1, 'exactly one summary');
  t.equal(summary?.exit_code, 0, 'summary.exit_code is the exit code');
  t.equal(summary?.channels, 1);
  t.equal(summary?.saved, saved.length);
  t.equal(summary?.skipped, skipped.length);
  t.equal(summary?.failed, 0);
  t.equal((summary?.per_channel as Line[] | undefined)?.[0]?.channel_id, C, 'per_channel names the channel');

  // The token never appears in stdout, stderr, or any byte of the archive and the state.
  t.notOk(run.stdout.includes(fake.token), 'token not on stdout');
  t.notOk(run.stderr.includes(fake.token), 'token not on stderr');
  const bytes = await allFileBytes(out, state);
  t.ok(
    [...bytes.keys()].some((p) => p.startsWith(state)),
    'the state folder has files',
  );
  const leaks = [...bytes].filter(([, buf]) => buf.includes(fake.token)).map(([p]) => p);
  t.same(leaks, [], 'token in no file under out/ and state/');

  // A second run is a no-op: nothing saved, and still a documented summary.
  const again = await runDps(['scrape', '--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--max-size', '50KB'], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(again.code, 0, 'second run exit 0');
  const againLines = checkStdout(t, again);
  t.equal(againLines.filter(ofEvent('saved')).length, 0, 'second run saves nothing');
});

t.test('failed downloads produce documented failed events and exit 1', async (t) => {
  // Links expire at once and can never be refreshed (refresh-urls and the message re-fetch both answer 404):
  // every file fails without retries, quickly.
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 6, messages: 4, imageRatio: 1, gapRate: 0, sizes: [2_000, 4_000] }),
    linkLifetimeSec: -3600,
  });
  fake.forceStatus('POST /attachments/refresh-urls', 404, 1000);
  fake.forceStatus('GET /channels/:id/messages/:message_id', 404, 1000);
  const { G, C } = firstTarget(fake);
  const expected = await collect(fake.expected({ channelId: C }));
  const dir = t.testdir();
  const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state')], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(run.code, 1, `exit 1 when files failed (stderr: ${run.stderr})`);
  const lines = checkStdout(t, run);
  const failed = lines.filter(ofEvent('failed'));
  t.same(failed.map((f) => f.attachment_id).sort(), expected.map((a) => a.attachment_id).sort(), 'one failed event per file');
  t.equal(lines.at(-1)?.event, 'summary');
  t.equal(lines.at(-1)?.exit_code, 1, 'summary.exit_code 1');
  t.equal(lines.at(-1)?.failed, failed.length, 'summary counts the failures');
  t.same(stackLines(run.stderr), [], 'no stack trace');
});

t.test('token sources, the default command and the stderr switches', { jobs: 4 }, async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 9, messages: 25, imageRatio: 0.5, sizes: [2_000, 20_000] }) });
  const { G, C } = firstTarget(fake);
  const want = (await collect(fake.expected({ channelId: C })))
    .filter(isPhoto)
    .map((a) => a.attachment_id)
    .sort();
  t.ok(want.length >= 5, `${want.length} photos`);
  const paths = (t: Test) => {
    const dir = t.testdir();
    return { dir, args: ['--out', join(dir, 'out'), '--state', join(dir, 'state')] };
  };
  const complete = (t: Test, run: Finished, what: string): void => {
    t.equal(run.code, 0, `${what}: exit 0 (stderr: ${run.stderr})`);
    const lines = checkStdout(t, run);
    t.same(
      lines
        .filter(ofEvent('saved'))
        .map((s) => s.attachment_id)
        .sort(),
      want,
      `${what}: the whole channel is archived`,
    );
    t.notOk(run.stdout.includes(fake.token) || run.stderr.includes(fake.token), `${what}: token not printed`);
    t.same(stackLines(run.stderr), [], `${what}: no stack trace`);
  };

  t.test('the default command needs no "scrape"; DISCORD_TOKEN and DISCORD_API_URL from the environment', async (t) => {
    const { args } = paths(t);
    const run = await runDps(['--server-id', G, '--channel-id', C, ...args], { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } });
    complete(t, run, 'default command');
  });

  t.test('the token from a .env file in the working directory', async (t) => {
    const { dir, args } = paths(t);
    writeFileSync(join(dir, '.env'), `# test\nDISCORD_TOKEN=${fake.token}\n`, { mode: 0o600 });
    const run = await runDps(['--server-id', G, '--channel-id', C, ...args], { cwd: dir, env: { DISCORD_API_URL: fake.api } });
    complete(t, run, '.env');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const noEnv = await runDps(['--server-id', G, '--channel-id', C, '--out', join(dir, 'o2'), '--state', join(dir, 's2')], {
      cwd: elsewhere,
      env: { DISCORD_API_URL: fake.api },
    });
    t.equal(noEnv.code, 2, 'from a folder without .env and without a token: usage error');
    t.equal(fake.requests.filter((r) => r.route === 'GET /users/@me' && r.status === 401).length, 0, 'no request with a missing token');
  });

  t.test('the token from --token (and a "Bot " prefix is accepted)', async (t) => {
    const { args } = paths(t);
    complete(t, await runDps(['--server-id', G, '--channel-id', C, '--token', fake.token, '--api', fake.api, ...args]), '--token');
    const second = paths(t);
    complete(t, await runDps(['--server-id', G, '--channel-id', C, '--token', `Bot ${fake.token}`, '--api', fake.api, ...second.args]), '--token "Bot ..."');
  });

  t.test('--quiet leaves stderr empty on success', async (t) => {
    const { args } = paths(t);
    const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--quiet', ...args], { env: { DISCORD_TOKEN: fake.token } });
    complete(t, run, '--quiet');
    t.equal(run.stderr, '', 'stderr is empty');
  });

  t.test('without --quiet a human log goes to stderr, never to stdout', async (t) => {
    const { args } = paths(t);
    const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, ...args], { env: { DISCORD_TOKEN: fake.token } });
    complete(t, run, 'default');
    t.ok(run.stderr.length > 0, 'something was logged on stderr');
  });

  t.test('--progress forces a progress line on a non-TTY stderr; --no-progress suppresses it', async (t) => {
    const { args } = paths(t);
    const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--progress', ...args], { env: { DISCORD_TOKEN: fake.token } });
    complete(t, run, '--progress');
    t.match(run.stderr, /\d[\d,]* files? \| [\d.]+ [KMG]?B .*elapsed/, 'a progress display on stderr');
    const quiet = paths(t);
    const off = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--no-progress', ...quiet.args], { env: { DISCORD_TOKEN: fake.token } });
    complete(t, off, '--no-progress');
    t.notMatch(off.stderr, /files? \| .*elapsed/, 'no progress line');
  });
});

t.test('--token-type user sends the raw token and warns about the terms of service', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 10, messages: 10, imageRatio: 0.5, sizes: [2_000, 8_000] }), userToken: true });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const run = await runDps(
    ['--server-id', G, '--channel-id', C, '--api', fake.api, '--token-type', 'user', '--out', join(dir, 'out'), '--state', join(dir, 'state')],
    {
      env: { DISCORD_TOKEN: fake.token },
    },
  );
  t.equal(run.code, 0, `exit 0: the fake accepted the raw token (stderr: ${run.stderr})`);
  t.match(run.stderr, /terms of service/i, 'the ToS warning is printed on stderr');
  t.notMatch(run.stdout, /terms of service/i, 'not on stdout');
  checkStdout(t, run);
  t.notOk(run.stderr.includes(fake.token), 'token not printed');
  const expected = (await collect(fake.expected({ channelId: C }))).filter(isPhoto);
  t.equal(rawLines(run.stdout).filter((l) => l?.event === 'saved').length, expected.length, 'everything archived');
  // The same token sent as a bot token is refused by a user-token fake.
  const asBot = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'o2'), '--state', join(dir, 's2')], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(asBot.code, 3, 'a bot-type request with a user token is rejected: exit 3');
});
