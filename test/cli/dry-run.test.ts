// `dps scrape --dry-run` (--simulate) end to end against the fake Discord: over a whole server it makes no CDN
// request, creates neither --out nor the state, and its would_save events and byte total are exactly what a real
// run then downloads; after a partial run it walks from the same cursor as the real run would (same history
// requests), leaves the state byte for byte (and key for key) as it was; filters select the same files; a wider
// filter walks again from the start without recording the restart; a state held by a run refuses it.

import t from 'tap';
import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario, singleChannel } from '../../fixtures/scenarios.js';
import { P } from '../../fixtures/model.js';
import type { AttachmentSpec } from '../../fixtures/model.js';
import { listFiles } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, rawLines, runDps, schemaProblems, startCli } from './helpers.js';
import type { Finished, Line } from './helpers.js';

const png = (filename: string, size: number): AttachmentSpec => ({ filename, contentType: 'image/png', size, width: 64, height: 64 });

// A server of three channels and a thread: re-posted bytes (different attachments), a forward of a file of the
// same channel (one attachment, two messages), non-images, embeds and stickers.
function server() {
  return buildScenario({
    seed: 23,
    guilds: [
      {
        name: 'Dry',
        channels: [
          {
            name: 'photos',
            messages: 120,
            imageRatio: 0.5,
            sizes: [1_000, 20_000],
            special: ['duplicates', 'rich'],
            overrides: {
              3: { content: 'original', attachments: [png('first.png', 5_000)] },
              90: { content: '', extras: [{ kind: 'forward', attachments: [], of: [{ index: 3 }] }] },
            },
            threads: [{ name: 'talk', messages: 30, imageRatio: 0.5, sizes: [1_000, 8_000] }],
          },
          { name: 'files', messages: 80, imageRatio: 0.3, otherRatio: 0.2, sizes: [1_000, 30_000], special: ['mixed'] },
          { name: 'quiet', messages: 40, imageRatio: 0.2, sizes: [1_000, 4_000] },
        ],
      },
    ],
  });
}

function documented(t: Test, run: Finished): Line[] {
  const lines = rawLines(run.stdout);
  const problems = lines.flatMap((line, i) => schemaProblems(line).map((p) => `line ${i + 1}: ${p}`));
  t.same(problems, [], 'every stdout line is a documented NDJSON event');
  return lines.filter((l): l is Line => l !== null);
}

const summaryOf = (run: Finished): Line => run.lines.filter(ofEvent('summary'))[0] ?? {};
const cdnRequests = (fake: FakeDiscord): number => fake.requests.filter((r) => r.kind === 'cdn').length;
// The attachment ids the CDN was asked for (/attachments/:channel_id/:attachment_id/:filename).
const cdnAttachmentIds = (fake: FakeDiscord): string[] =>
  fake.requests.filter((r) => r.kind === 'cdn' && r.route.includes('/attachments/')).map((r) => r.path.split('/').at(-2) ?? '');
// Where each channel's walk of a run started: the lowest `after` of its history requests (pages walked up from
// the cursor; pages walked down from the newest message meet them, how many of each depends on timing).
const resumePoints = (fake: FakeDiscord): Record<string, string> => {
  const points: Record<string, string> = {};
  for (const r of fake.requests.filter((r) => r.route === 'GET /channels/:id/messages' && r.query.after !== undefined)) {
    const channel = r.channelId ?? '';
    const after = r.query.after ?? '0';
    if (points[channel] === undefined || BigInt(after) < BigInt(points[channel])) points[channel] = after;
  }
  return points;
};
// A file a real run downloads: a would_save event that is neither a reference (duplicate_of) nor an adoption.
const downloads = (lines: Line[]): Line[] =>
  lines.filter((l) => l.event === 'would_save' && l.duplicate_of === undefined && l.adopted === undefined && l.archived === undefined);
const key = (l: Line): string => `${String(l.message_id)}/${String(l.attachment_id)}`;

// Every file under `dir` with its bytes' hash (empty when it does not exist).
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const file of (await listFiles(dir)).sort())
    out[file] = createHash('sha256')
      .update(await readFile(join(dir, file)))
      .digest('hex');
  return out;
}

// Every key and value of a state, read from a copy (opening a LevelDB rewrites its files).
async function keyDump(state: string): Promise<Array<[string, string]>> {
  const copy = await mkdtemp(join(tmpdir(), 'dps-dump-'));
  try {
    await cp(state, copy, { recursive: true });
    await rm(join(copy, 'LOCK'), { force: true });
    const db = new Level<string, string>(copy, { keyEncoding: 'utf8', valueEncoding: 'utf8', createIfMissing: false });
    await db.open();
    const entries: Array<[string, string]> = [];
    for await (const [k, v] of db.iterator()) entries.push([k, v]);
    await db.close();
    return entries;
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

t.test('a whole server: no CDN request, nothing created, and the byte total a real run then downloads', async (t) => {
  const fake = await fakeFor(t, { scenario: server() });
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const G = fake.scenario.guilds[0]!.id;
  const args = ['--server-id', G, '--all-channels', '--api', fake.api, '--out', out, '--state', state, '--types', 'all', '--embeds', '--stickers'];
  const env = { DISCORD_TOKEN: fake.token };

  const dry = await runDps([...args, '--dry-run'], { env });
  t.equal(dry.code, 0, `dry run exit 0 (stderr: ${dry.stderr})`);
  const dryLines = documented(t, dry);
  t.equal(cdnRequests(fake), 0, 'no CDN request at all');
  t.same(
    fake.requests.filter((r) => r.method !== 'GET'),
    [],
    'no link refresh (no POST) either',
  );
  t.notOk(existsSync(out), '--out is not created');
  t.notOk(existsSync(state), 'the state is not created');
  t.notOk(existsSync(join(dir, 'progress.json')), 'nor progress.json beside it');
  t.match(dry.stderr, /dry run: nothing is downloaded/);
  const wouldSave = dryLines.filter(ofEvent('would_save'));
  const summary = summaryOf(dry);
  t.equal(summary.dry_run, true, 'the summary says it was a dry run');
  t.equal(summary.would_save, wouldSave.length, 'would_save counts every would_save event');
  t.equal(summary.saved, 0, 'nothing saved');
  t.equal(summary.bytes, 0, 'nothing downloaded');
  const sized = downloads(wouldSave).filter((l) => l.size !== null);
  const unsized = downloads(wouldSave).filter((l) => l.size === null);
  t.equal(summary.would_download, downloads(wouldSave).length, 'would_download: the events without duplicate_of');
  t.equal(
    summary.would_save_bytes,
    sized.reduce((sum, l) => sum + Number(l.size), 0),
    'would_save_bytes is the sum of the declared sizes of the files to download',
  );
  t.equal(summary.would_save_unsized, unsized.length, 'would_save_unsized counts the files without a declared size');
  t.ok(unsized.length > 0, `the scenario has files without a declared size (${unsized.length}: external embeds)`);
  const perChannel = summary.per_channel as Line[];
  t.equal(perChannel.length, 4, 'three channels and a thread');
  t.equal(
    perChannel.reduce((sum, c) => sum + Number(c.would_save_bytes), 0),
    summary.would_save_bytes,
    'the per-channel bytes add up to the total',
  );
  const references = wouldSave.filter((l) => l.duplicate_of !== undefined);
  t.ok(references.length >= 1, 'the forward of a file of this run is a reference (duplicate_of), not a download');
  t.ok(
    references.every((l) => wouldSave.some((w) => w.attachment_id === l.attachment_id && w.duplicate_of === undefined && w.path === l.duplicate_of)),
    'a reference points at the path of the same attachment counted earlier',
  );
  const ids = downloads(wouldSave).map((l) => String(l.attachment_id));
  t.equal(new Set(ids).size, ids.length, 'an attachment is counted once');
  const doneEvents = dryLines.filter(ofEvent('channel_done'));
  t.equal(doneEvents.length, 4, 'a channel_done per channel');
  t.ok(
    doneEvents.every((d) => d.cursor === null && d.complete === true),
    'channel_done reports the stored cursor (none): nothing moved',
  );

  // The real run: it downloads exactly what the dry run said.
  const dryHistory = resumePoints(fake);
  fake.resetLog();
  const bytesBefore = fake.stats.cdnBytes ?? 0;
  const real = await runDps(args, { env });
  t.equal(real.code, dry.code, `the real run exits as the dry run did (stderr: ${real.stderr})`);
  const downloaded = (fake.stats.cdnBytes ?? 0) - bytesBefore;
  t.same(resumePoints(fake), dryHistory, 'the same resume points: the same walk');
  // The CDN's own count of bytes sent: the dry run's sized files plus the files without a declared size.
  const saved = real.lines.filter(ofEvent('saved'));
  const savedById = new Map(saved.map((l) => [key(l), l]));
  const unsizedBytes = unsized.reduce((sum, l) => sum + Number(savedById.get(key(l))?.bytes ?? Number.NaN), 0);
  t.equal(downloaded, Number(summary.would_save_bytes) + unsizedBytes, `the CDN sent would_save_bytes + the undeclared files' bytes (${downloaded})`);
  t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, downloads(wouldSave).length, 'one CDN request per would-download file');
  // Per file: the real run saved what the dry run listed, at the paths it said.
  t.same(saved.map(key).sort(), wouldSave.map(key).sort(), 'the real run saves exactly the would_save files');
  const moved = wouldSave.filter((l) => savedById.get(key(l))?.path !== l.path && savedById.get(key(l))?.duplicate_of === undefined);
  t.same(
    moved.map((l) => `${String(l.path)} -> ${String(savedById.get(key(l))?.path)}`),
    [],
    'each file is saved at the path the dry run said',
  );
  // The real run's bytes: each attachment's first saved event, except references (the same attachment again).
  const seen = new Set<string>();
  let realBytes = 0;
  for (const l of saved) {
    if (seen.has(String(l.attachment_id))) continue;
    seen.add(String(l.attachment_id));
    realBytes += Number(l.bytes);
  }
  t.equal(realBytes, downloaded, "the saved events' bytes, references excluded, are the CDN's bytes");

  // Once archived, a dry run has nothing left to save.
  const after = await runDps([...args, '--simulate'], { env });
  t.equal(after.code, 0);
  t.equal(summaryOf(after).would_save, 0, '--simulate (the alias) after a complete run: nothing would be saved');
  t.equal(summaryOf(after).would_save_bytes, 0);
});

t.test('after a killed run: the same resume point as the real run, and the state unchanged byte for byte', async (t) => {
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 24, messages: 240, imageRatio: 0.6, gapRate: 0, sizes: [2_000, 10_000] }),
    cdnLatencyMs: 100, // about 20 files a second: the kill comes long before the end
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--concurrency', '2', '--no-progress'];
  const env = { DISCORD_TOKEN: fake.token };
  const first = startCli(args, { env });
  await first.waitFor(20, ofEvent('saved'));
  await new Promise((resolve) => setTimeout(resolve, 1_200)); // past a cursor flush
  first.child.kill('SIGKILL');
  await first.done;

  const manifestBefore = await runDps(['manifest', '--state', state], { env });
  const keysBefore = await keyDump(state);
  const stateBefore = await tree(state);
  const outBefore = await tree(out);
  const progressBefore = await readFile(join(dir, 'progress.json'), 'utf8');
  t.ok(
    keysBefore.some(([k]) => k.startsWith('!channel!')),
    'the killed run left a cursor',
  );
  fake.resetLog();
  const dry = await runDps([...args, '--dry-run'], { env });
  t.equal(dry.code, 0, `dry run exit 0 (stderr: ${dry.stderr})`);
  documented(t, dry);
  t.equal(cdnRequests(fake), 0, 'no CDN request');
  t.match(dry.stderr, /resuming after message/, 'it resumes after the cursor');
  t.same(await tree(state), stateBefore, 'every file of the state is unchanged, byte for byte');
  t.same(await keyDump(state), keysBefore, 'every key and value of the state is unchanged');
  t.same(await tree(out), outBefore, '--out is unchanged');
  t.equal(await readFile(join(dir, 'progress.json'), 'utf8'), progressBefore, 'progress.json is unchanged');
  const manifestAfter = await runDps(['manifest', '--state', state], { env });
  t.equal(manifestAfter.stdout, manifestBefore.stdout, 'dps manifest prints the same');
  const dryHistory = resumePoints(fake);
  const wouldDownload = downloads(dry.lines.filter(ofEvent('would_save')));
  t.ok(wouldDownload.length > 100, `most files are left to download (${wouldDownload.length})`);

  fake.resetLog();
  const bytesBefore = fake.stats.cdnBytes ?? 0;
  const real = await runDps(args, { env });
  t.equal(real.code, 0, `the real run exit 0 (stderr: ${real.stderr})`);
  t.same(resumePoints(fake), dryHistory, 'the real run walks from the same point');
  t.same(cdnAttachmentIds(fake).sort(), wouldDownload.map((l) => String(l.attachment_id)).sort(), 'it downloads exactly the would-download files');
  t.equal((fake.stats.cdnBytes ?? 0) - bytesBefore, summaryOf(dry).would_save_bytes, 'and exactly would_save_bytes');
});

t.test('killed before its cursor moved: the files the real run announces from the state are would_save, not downloads', async (t) => {
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 26, messages: 240, imageRatio: 0.6, gapRate: 0, sizes: [2_000, 10_000] }),
    cdnLatencyMs: 100,
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const env = { DISCORD_TOKEN: fake.token };
  const first = startCli([...args, '--concurrency', '2', '--no-progress'], { env });
  await first.waitFor(10, ofEvent('saved'));
  first.child.kill('SIGKILL'); // at once: files recorded past the stored cursor, which the next run announces again
  await first.done;

  const dry = await runDps([...args, '--dry-run'], { env });
  t.equal(dry.code, 0, `dry run exit 0 (stderr: ${dry.stderr})`);
  documented(t, dry);
  fake.resetLog();
  const bytesBefore = fake.stats.cdnBytes ?? 0;
  const real = await runDps(args, { env });
  t.equal(real.code, 0, `the real run exit 0 (stderr: ${real.stderr})`);
  const fetched = new Set(cdnAttachmentIds(fake));
  const announcedOnly = real.lines.filter((l) => l.event === 'saved' && l.duplicate_of === undefined && !fetched.has(String(l.attachment_id)));
  t.ok(announcedOnly.length > 0, `the real run announces files the killed run saved (${announcedOnly.length})`);
  t.same(dry.lines.filter(ofEvent('would_save')).map(key).sort(), real.lines.filter(ofEvent('saved')).map(key).sort(), 'one would_save per saved event');
  t.same(
    dry.lines
      .filter((l) => l.archived === true || l.adopted === true)
      .map(key)
      .sort(),
    announcedOnly.map(key).sort(),
    // adopted: a file the killed run had placed but not yet recorded (the real run hashes it, no download)
    'those are marked archived (or adopted)',
  );
  t.equal(summaryOf(dry).would_save, real.lines.filter(ofEvent('saved')).length);
  t.same(
    downloads(dry.lines)
      .map((l) => String(l.attachment_id))
      .sort(),
    [...fetched].sort(),
    'would_download: exactly the files downloaded',
  );
  t.equal((fake.stats.cdnBytes ?? 0) - bytesBefore, summaryOf(dry).would_save_bytes, 'and exactly would_save_bytes');
});

t.test('filters select the same files; a wider filter walks again from the start without recording it', async (t) => {
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 25, messages: 150, imageRatio: 0.5, otherRatio: 0.2, sizes: [1_000, 60_000], special: ['mixed'] }),
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const base = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state];
  const filters = ['--types', 'png,pdf', '--max-size', '30KB'];
  const env = { DISCORD_TOKEN: fake.token };
  const skips = (run: Finished): string[] =>
    run.lines
      .filter(ofEvent('skipped'))
      .map((l) => `${key(l)}:${String(l.reason)}`)
      .sort();

  const dry = await runDps([...base, ...filters, '--dry-run'], { env });
  t.equal(dry.code, 0, `exit 0 (stderr: ${dry.stderr})`);
  documented(t, dry);
  const real = await runDps([...base, ...filters], { env });
  t.equal(real.code, 0);
  t.same(dry.lines.filter(ofEvent('would_save')).map(key).sort(), real.lines.filter(ofEvent('saved')).map(key).sort(), 'the same files selected');
  t.same(skips(dry), skips(real), 'the same files skipped, for the same reasons');
  t.ok(skips(dry).some((s) => s.endsWith(':type')) && skips(dry).some((s) => s.endsWith(':too_large')), 'both filters skipped files');

  // The filter widens: a real run would walk again from the start; the dry run does, and records nothing.
  const keysBefore = await keyDump(state);
  const stateBefore = await tree(state);
  fake.resetLog();
  const wider = await runDps([...base, '--types', 'all', '--dry-run'], { env });
  t.equal(wider.code, 0, `exit 0 (stderr: ${wider.stderr})`);
  t.ok(
    wider.lines.some((l) => l.event === 'warning' && l.code === 'filter_widened'),
    'filter_widened, as a real run says',
  );
  t.ok(
    fake.requests.some((r) => r.route === 'GET /channels/:id/messages' && (r.query.after === '0' || r.query.after === undefined)),
    'the walk starts from the beginning',
  );
  t.same(await keyDump(state), keysBefore, 'the restart (walked_with, cursor) is not recorded');
  t.same(await tree(state), stateBefore, 'the state files are unchanged');
  const widerHistory = resumePoints(fake);
  const wouldDownload = downloads(wider.lines.filter(ofEvent('would_save')));
  t.ok(wouldDownload.length > 0, 'the widened filter finds files to download');
  const archived = real.lines.filter(ofEvent('saved')).map(key);
  t.ok(
    wider.lines.filter((l) => l.event === 'skipped' && l.reason === 'already_archived').length >= archived.length,
    'the archived files are skipped already_archived',
  );
  fake.resetLog();
  const bytesBefore = fake.stats.cdnBytes ?? 0;
  const widened = await runDps([...base, '--types', 'all'], { env });
  t.equal(widened.code, 0);
  t.same(resumePoints(fake), widerHistory, 'the real run walks from the same point (the start)');
  t.same(cdnAttachmentIds(fake).sort(), wouldDownload.map((l) => String(l.attachment_id)).sort(), 'and downloads exactly what the dry run listed');
  t.equal((fake.stats.cdnBytes ?? 0) - bytesBefore, summaryOf(wider).would_save_bytes, 'its bytes are would_save_bytes');
});

t.test('a state held by a running dps refuses a dry run as it refuses a run (exit code of DPS_STORE_LOCKED)', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 26, messages: 30, imageRatio: 0.5, sizes: [1_000, 2_000] }) });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const state = join(dir, 'state');
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', state];
  const env = { DISCORD_TOKEN: fake.token };
  t.equal((await runDps(args, { env })).code, 0);
  const held = new Level(state); // holds LevelDB's lock, as a running dps does
  await held.open();
  try {
    const real = await runDps(args, { env });
    const dry = await runDps([...args, '--dry-run'], { env });
    t.not(real.code, 0, 'a real run is refused');
    t.equal(dry.code, real.code, `the dry run is refused with the same exit code (${String(dry.code)})`);
    t.match(dry.stderr, /in use by another dps process/);
  } finally {
    await held.close();
  }
});

t.test('exit codes as a real run: a channel it cannot read (4), a bad flag (2)', async (t) => {
  const fake = await fakeFor(t, {
    scenario: buildScenario({
      seed: 27,
      guilds: [
        {
          name: 'Mixed',
          channels: [
            { name: 'general', messages: 20, imageRatio: 0.5, sizes: [1_000, 2_000] },
            { name: 'hidden', messages: 5, imageRatio: 0.5, overwrites: [{ target: 'everyone', deny: P.VIEW_CHANNEL }] },
          ],
        },
      ],
    }),
  });
  const guild = fake.scenario.guilds[0]!;
  const hidden = guild.channels.find((c) => c.name === 'hidden')!.id;
  const general = guild.channels.find((c) => c.name === 'general')!.id;
  const dir = t.testdir();
  const args = [
    '--server-id',
    guild.id,
    '--channel-id',
    general,
    '--channel-id',
    hidden,
    '--api',
    fake.api,
    '--out',
    join(dir, 'out'),
    '--state',
    join(dir, 'state'),
  ];
  const env = { DISCORD_TOKEN: fake.token };
  const dry = await runDps([...args, '--dry-run'], { env });
  t.equal(dry.code, 4, `a requested channel it cannot read: exit 4 (stderr: ${dry.stderr})`);
  t.ok(
    dry.lines.some((l) => l.event === 'skipped' && l.channel_id === hidden),
    'the channel is skipped, as in a real run',
  );
  t.ok(Number(summaryOf(dry).would_save) > 0, 'the readable channel is sized');
  t.notOk(existsSync(join(dir, 'out')) || existsSync(join(dir, 'state')), 'nothing created');
  const real = await runDps(args, { env });
  t.equal(real.code, dry.code, 'the real run exits the same');
  const bad = await runDps([...args, '--dry-run', '--max-size', 'huge'], { env });
  t.equal(bad.code, 2, 'a bad value: a usage error (exit 2)');
  t.match(bad.stderr, /--max-size must be a size like 25MB or 800KiB, got "huge"/);
});

t.test('the failed-file queue counts, with its recorded sizes and no link refresh', async (t) => {
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 28, messages: 60, imageRatio: 0.5, sizes: [1_000, 8_000] }),
    faults: { error5xxRate: 0.85, seed: 4, target: 'cdn', cdnRetryAfterSec: 0 }, // about a third of the files fail
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const state = join(dir, 'state');
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', state, '--types', 'all'];
  const env = { DISCORD_TOKEN: fake.token };
  const first = await runDps(args, { env });
  t.equal(first.code, 1, 'the first run has failures (exit 1)');
  const failed = first.lines
    .filter(ofEvent('failed'))
    .map((l) => String(l.attachment_id))
    .sort();
  t.ok(failed.length > 0, `${failed.length} files failed`);
  fake.setOption({ faults: { error5xxRate: 0 } });
  const stateBefore = await tree(state);
  fake.resetLog();
  const dry = await runDps([...args, '--dry-run'], { env });
  t.equal(dry.code, 0, `dry run exit 0 (stderr: ${dry.stderr})`);
  documented(t, dry);
  const retried = dry.lines.filter((l) => l.event === 'would_save' && l.retry === true);
  t.same(retried.map((l) => String(l.attachment_id)).sort(), failed, 'every queued failure would be saved, marked retry');
  t.ok(
    retried.every((l) => typeof l.size === 'number' && l.size > 0),
    'with its recorded size',
  );
  t.same(
    fake.requests.filter((r) => r.kind === 'cdn' || r.method === 'POST').map((r) => r.route),
    [],
    'no CDN request, no refresh-urls',
  );
  t.same(await tree(state), stateBefore, 'the state is unchanged');
  // retry-failed --dry-run: the same retries, and nothing else.
  const retryArgs = ['retry-failed', '--server-id', G, '--api', fake.api, '--out', join(dir, 'out'), '--state', state];
  const retryDry = await runDps([...retryArgs, '--dry-run'], { env });
  t.equal(retryDry.code, 0, `retry-failed --dry-run exit 0 (stderr: ${retryDry.stderr})`);
  documented(t, retryDry);
  t.same(
    retryDry.lines
      .filter((l) => l.event === 'would_save' && l.retry === true)
      .map((l) => String(l.attachment_id))
      .sort(),
    failed,
    'retry-failed --dry-run lists the same retries',
  );
  t.same(
    fake.requests.filter((r) => r.kind === 'cdn' || r.method === 'POST').map((r) => r.route),
    [],
    'still no CDN request, no refresh-urls',
  );
  t.same(await tree(state), stateBefore, 'the state is still unchanged');
  const missing = await runDps(['retry-failed', '--server-id', G, '--api', fake.api, '--state', join(dir, 'typo'), '--dry-run'], { env });
  t.equal(missing.code, 5, 'retry-failed --dry-run on a missing state: exit 5, as retry-failed');
  t.notOk(existsSync(join(dir, 'typo')), 'and nothing is created');
  fake.resetLog();
  const bytesBefore = fake.stats.cdnBytes ?? 0;
  const real = await runDps(args, { env });
  t.equal(real.code, 0, 'the real run saves them (exit 0)');
  t.same(
    cdnAttachmentIds(fake).sort(),
    downloads(dry.lines)
      .map((l) => String(l.attachment_id))
      .sort(),
    'it downloads the would-download files',
  );
  t.equal((fake.stats.cdnBytes ?? 0) - bytesBefore, summaryOf(dry).would_save_bytes, 'their bytes are would_save_bytes');
});
