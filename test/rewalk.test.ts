// Changing filters between runs (lib/rewalk.ts, lib/store/walked-with.ts), against the fake Discord with a real
// LevelDB: a run that selects more than the cursor was walked with walks the history again and downloads exactly
// the files the earlier filter skipped, announcing nothing twice; a narrower run does not re-walk; an interrupted
// re-walk resumes; a record without a filter is taken as walked with the current one (and the user is told).

import t from 'tap';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import type { FakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { runArchive } from '../lib/index.js';
import type { DpsEvent } from '../lib/index.js';
import type { WarningEvent } from '../lib/output/events.js';
import { openStore } from '../lib/store/open.js';
import { collect, runLibrary } from './helpers/harness.js';
import { regexRange } from './helpers/regex-escape.js';
import { assertExact, baseOptions } from './helpers/verify.js';
import { eventsOf } from './helpers/events.js';

const savedIds = (events: DpsEvent[]): string[] => eventsOf(events, 'saved').map((e) => e.attachment_id);
const warnings = (events: DpsEvent[], code: string): WarningEvent[] => eventsOf(events, 'warning').filter((e) => e.code === code);
const cdnIds = (fake: FakeDiscord): string[] => fake.requests.filter((r) => r.kind === 'cdn').map((r) => r.path.split('/')[3] ?? '');
const pages = (fake: FakeDiscord): number => fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length;

function fakeWith(seed: number, messages = 100, name = 'general'): Promise<FakeDiscord> {
  return startFakeDiscord({ scenario: singleChannel({ seed, name, messages, imageRatio: 0.5, otherRatio: 0.2, sizes: [200, 3_000] }) });
}

t.test('--max-size 1KB, then no limit: the skipped files are downloaded, nothing twice', async (t) => {
  const fake = await fakeWith(31, 100, 'pics\x1b[2J\x1b]8;;http://x\x07');
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = baseOptions(fake, t.testdir(), channel.id);
  const first = await runLibrary({ ...options, maxSize: '1KB' });
  t.equal(first.result.exitCode, 0);
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const small = expected.filter((a) => a.size <= 1000).map((a) => a.attachment_id);
  t.ok(small.length > 10 && small.length < expected.length - 10, `${small.length} of ${expected.length} files fit 1KB`);
  t.same(savedIds(first.events).sort(), [...small].sort(), 'the first run saves the small files');

  fake.resetLog();
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0);
  const widened = warnings(second.events, 'filter_widened');
  t.equal(widened.length, 1, 'one filter_widened warning');
  t.equal(widened[0]?.channel_id, channel.id);
  t.match(widened[0]?.detail, /no --max-size/);
  const lines = second.logs.filter((line) => line.includes('walking the whole history again'));
  t.equal(lines.length, 1, 'one line on stderr');
  t.ok(lines[0]?.includes('#pics\\x1b[2J\\x1b]8;;http://x\\x07 ('), `the channel name is escaped: ${JSON.stringify(lines[0])}`);
  t.notOk(new RegExp(`[${regexRange(0x00, 0x09)}${regexRange(0x0b, 0x1f)}]`).test(lines[0] ?? ''), 'no control character reaches the terminal');
  const large = expected
    .filter((a) => a.size > 1000)
    .map((a) => a.attachment_id)
    .sort();
  t.same(savedIds(second.events).sort(), large, 'the re-walk saves exactly the files the first run skipped');
  t.same(cdnIds(fake).sort(), large, 'and downloads only those');
  const skipped = second.events.filter((e) => e.event === 'skipped' && e.reason === 'already_archived').length;
  t.equal(skipped, small.length, 'archived files are skipped as already_archived');
  await assertExact(t, fake, options.out, options.state, channel.id);

  fake.resetLog();
  const third = await runLibrary(options);
  t.same(savedIds(third.events), [], 'a further run saves nothing');
  t.same(warnings(third.events, 'filter_widened'), [], 'and does not re-walk');
  t.equal(pages(fake), 1, 'one message request: the snapshot');
});

t.test('--types png, then the default, then all: each widening fetches what was skipped', async (t) => {
  const fake = await fakeWith(32);
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = baseOptions(fake, t.testdir(), channel.id);
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const runs: DpsEvent[][] = [];
  for (const types of ['png', undefined, 'all']) {
    const { types: _all, ...rest } = options;
    const run = await runLibrary(types === undefined ? rest : { ...rest, types });
    t.equal(run.result.exitCode, 0);
    runs.push(run.events);
  }
  const [png, photos, all] = runs.map(savedIds) as [string[], string[], string[]];
  const is = (re: RegExp) =>
    expected
      .filter((a) => re.test(a.content_type ?? ''))
      .map((a) => a.attachment_id)
      .sort();
  t.same([...png].sort(), is(/^image\/png/), 'png only');
  t.same([...photos].sort(), is(/^image\/(jpeg|gif|webp)/), 'then the other photo types');
  t.same([...all].sort(), is(/^(?!image\/(png|jpeg|gif|webp))/), 'then everything else');
  t.equal(warnings(runs[0]!, 'filter_widened').length, 0, 'the first run has nothing to widen');
  t.equal(warnings(runs[1]!, 'filter_widened').length, 1);
  t.equal(warnings(runs[2]!, 'filter_widened').length, 1);
  const every = [...png, ...photos, ...all];
  t.equal(new Set(every).size, every.length, 'no file announced twice');
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('a narrower run does not re-walk; it narrows what the record promises for the messages it walks', async (t) => {
  const fake = await fakeWith(33);
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = baseOptions(fake, t.testdir(), channel.id);
  t.equal((await runLibrary(options)).result.exitCode, 0);
  fake.resetLog();
  const narrow = await runLibrary({ ...options, types: 'png', maxSize: '2KB' });
  t.same(warnings(narrow.events, 'filter_widened'), [], 'no re-walk for a narrower filter');
  t.equal(pages(fake), 1, 'one message request');
  t.same(cdnIds(fake), [], 'nothing downloaded');

  // New messages walked with the narrow filter: a wider run must come back for their other files.
  fake.appendMessages(channel.id, 60, { imageRatio: 0.8 });
  const before = new Set((await collect(fake.expected({ channelId: channel.id }))).map((a) => a.attachment_id));
  const narrowNew = await runLibrary({ ...options, types: 'png', maxSize: '2KB' });
  t.same(warnings(narrowNew.events, 'filter_widened'), []);
  fake.resetLog();
  const wide = await runLibrary(options);
  t.equal(warnings(wide.events, 'filter_widened').length, 1, 'the wider run re-walks');
  const got = [...savedIds(narrowNew.events), ...savedIds(wide.events)];
  t.equal(new Set(got).size, got.length, 'nothing announced twice');
  t.ok(got.length > 0 && got.every((id) => before.has(id)), `${got.length} files of the new messages saved`);
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('an interrupted re-walk resumes: nothing lost, nothing downloaded or announced twice', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 34, messages: 300, imageRatio: 0.5, sizes: [200, 3_000] }), cdnLatencyMs: 3 });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), concurrency: 2 };
  const first = await runLibrary({ ...options, maxSize: '1KB' });
  t.equal(first.result.exitCode, 0);
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const large = expected.filter((a) => a.size > 1000);
  t.ok(large.length > 60, `${large.length} files were skipped by --max-size`);

  // The widened run stops after a third of the skipped files are saved.
  const controller = new AbortController();
  const second: DpsEvent[] = [];
  const stopped = await runArchive(options, {
    signal: controller.signal,
    emit: (event) => {
      second.push(event);
      if (savedIds(second).length === Math.floor(large.length / 3)) controller.abort(new Error('SIGINT'));
    },
  });
  t.equal(stopped.exitCode, 130, 'interrupted');
  t.equal(warnings(second, 'filter_widened').length, 1);

  fake.resetLog();
  const third = await runLibrary(options);
  t.equal(third.result.exitCode, 0);
  t.same(warnings(third.events, 'filter_widened'), [], 'the resume continues the re-walk, it does not start another');
  const announced = [...savedIds(first.events), ...savedIds(second), ...savedIds(third.events)];
  t.equal(new Set(announced).size, announced.length, 'no file announced twice across the three runs');
  t.same([...announced].sort(), expected.map((a) => a.attachment_id).sort(), 'together exactly the expected files');
  const downloadedBefore = new Set([...savedIds(first.events), ...savedIds(second)]);
  t.same(
    cdnIds(fake).filter((id) => downloadedBefore.has(id)),
    [],
    'nothing downloaded again',
  );
  await assertExact(t, fake, options.out, options.state, channel.id);
  const store = await openStore(options.state);
  const record = await store.getChannel(channel.id);
  await store.close();
  t.equal(record?.rewalk, undefined, 'the re-walk is over');
  t.same(record?.walked_with, { types: 'all', max_size: null, embeds: false, stickers: false }, 'and the wider filter is recorded');
});

t.test("a record from an older dps (no filter) is taken as walked with this run's filter, and the user is told once", async (t) => {
  const fake = await fakeWith(35, 100);
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = baseOptions(fake, t.testdir(), channel.id);
  t.equal((await runLibrary({ ...options, types: 'png' })).result.exitCode, 0);
  const store = await openStore(options.state);
  const record = await store.getChannel(channel.id);
  const legacy = { ...record! };
  delete legacy.walked_with;
  await store.putChannel(legacy);
  await store.close();
  fake.resetLog();
  const upgraded = await runLibrary(options);
  t.same(warnings(upgraded.events, 'filter_widened'), [], 'no surprise re-walk');
  t.equal(warnings(upgraded.events, 'filter_unknown').length, 1, 'a filter_unknown warning');
  t.ok(
    upgraded.logs.some((line) => /--from-start/.test(line)),
    'stderr says how to fetch what older runs skipped',
  );
  t.equal(pages(fake), 1, 'one message request');
  const again = await runLibrary(options);
  t.same(warnings(again.events, 'filter_unknown'), [], 'said once: the record now holds the filter');
});
