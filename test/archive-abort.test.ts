// Aborting a run (SIGINT in the CLI) mid-flight: in-flight files finish or are cleaned up, the cursor is
// saved, no abort listener is left on the caller's signal, no process warning is emitted, and a re-run
// completes the archive exactly.

import t from 'tap';
import { baseOptions } from './helpers/verify.js';
import { getEventListeners } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { manifest, runArchive, status } from '../lib/index.js';
import type { DpsEvent } from '../lib/index.js';
import { collect, listFiles, sha256File } from './helpers/harness.js';
import { compareSnowflakes } from '../lib/util/snowflake.js';

t.test('abort mid-run, then resume', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));

  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 600, imageRatio: 0.5 }), cdnLatencyMs: 20 });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const options = baseOptions(fake, dir, channel.id);

  const controller = new AbortController();
  const first: DpsEvent[] = [];
  const result = await runArchive(options, {
    signal: controller.signal,
    emit: (event) => {
      first.push(event);
      if (first.filter((e) => e.event === 'saved').length === 40) controller.abort(new Error('SIGINT'));
    },
  });
  t.equal(result.exitCode, 130, 'aborted runs exit 130');
  t.equal(getEventListeners(controller.signal, 'abort').length, 0, 'no abort listener left on the caller signal');
  const report = await status(options.state);
  const cursor = report.servers[guild.id]?.channels[channel.id]?.last_message_id;
  t.ok(cursor, 'the cursor was saved on abort');
  t.equal((await listFiles(options.out)).filter((f) => f.endsWith('.dps-tmp')).length, 0, 'no temp files after an abort');
  const summary = first.at(-1) as { event: string; exit_code: number };
  t.equal(summary.event, 'summary');
  t.equal(summary.exit_code, 130);

  // Aborted before start: nothing happens, still a clean result.
  const already = new AbortController();
  already.abort(new Error('SIGTERM'));
  const none = await runArchive(options, { signal: already.signal });
  t.equal(none.exitCode, 130);
  t.equal(none.totals.saved, 0);

  const archivedAfterFirst: string[] = [];
  for await (const record of manifest(options.state)) if (record.status === 'saved') archivedAfterFirst.push(record.attachment_id);
  t.ok(archivedAfterFirst.length >= 40, `${archivedAfterFirst.length} files archived by the interrupted run`);
  fake.resetLog();
  const second: DpsEvent[] = [];
  const resumed = await runArchive(options, { emit: (event) => void second.push(event) });
  t.equal(resumed.exitCode, 0);
  const saved = [...first, ...second].filter((e) => e.event === 'saved') as Array<{ attachment_id: string; path: string; sha256: string }>;
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const fetchedAgain = fake.requests.filter((r) => r.kind === 'cdn' && archivedAfterFirst.some((id) => r.path.includes(`/${id}/`)));
  t.same(
    fetchedAgain.map((r) => r.path),
    [],
    'nothing archived by the first run is downloaded again',
  );
  const announced = new Map(saved.map((s) => [s.attachment_id, s]));
  t.same([...announced.keys()].sort(), expected.map((e) => e.attachment_id).sort(), 'together the runs announced exactly the expected set');
  let exact = 0;
  for (const s of announced.values()) if ((await sha256File(s.path)) === expected.find((e) => e.attachment_id === s.attachment_id)?.sha256) exact++;
  t.equal(exact, expected.length, 'byte-exact');
  t.same(
    warnings.map((w) => w.message),
    [],
    'no process warnings (e.g. MaxListenersExceeded)',
  );
});

t.test('abort after part of the walk down is done: the resume skips that span and announces nothing twice', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 1500, imageRatio: 0.2, gapRate: 0 }), cdnLatencyMs: 5 });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), concurrency: 2 };
  const expected = await collect(fake.expected({ channelId: channel.id }));

  const controller = new AbortController();
  const first: DpsEvent[] = [];
  const newest = BigInt(
    expected
      .map((e) => e.message_id)
      .sort(compareSnowflakes)
      .at(-1)!,
  );
  const result = await runArchive(options, {
    signal: controller.signal,
    emit: (event) => {
      first.push(event);
      // Stop once files from both ends are done (an event from the top half and one from the bottom half).
      const ids = first.filter((e) => e.event === 'saved').map((e) => BigInt((e as { message_id: string }).message_id));
      if (ids.some((id) => id > newest - (newest - BigInt(expected[0]!.message_id)) / 4n) && ids.length >= 60) controller.abort(new Error('SIGINT'));
    },
  });
  t.equal(result.exitCode, 130);
  const entry = (await status(options.state)).servers[guild.id]?.channels[channel.id];
  t.ok(entry?.done_above, `the span finished walking down is saved: ${JSON.stringify(entry)}`);
  t.ok(entry?.last_message_id, 'and the cursor below it');
  const span = entry!.done_above!;

  fake.resetLog();
  const second: DpsEvent[] = [];
  const resumed = await runArchive(options, { emit: (event) => void second.push(event) });
  t.equal(resumed.exitCode, 0);
  const saved = [...first, ...second].filter((e) => e.event === 'saved') as Array<{ attachment_id: string; message_id: string }>;
  t.equal(new Set(saved.map((s) => s.attachment_id)).size, saved.length, 'no file announced twice across the two runs');
  t.same(saved.map((s) => s.attachment_id).sort(), expected.map((e) => e.attachment_id).sort(), 'together exactly the expected files');
  const inSpan = second.filter(
    (e) =>
      e.event === 'saved' &&
      compareSnowflakes((e as { message_id: string }).message_id, span.from) >= 0 &&
      compareSnowflakes((e as { message_id: string }).message_id, span.to) <= 0,
  );
  t.same(inSpan, [], 'nothing from the finished span in the resume');
  const after = await status(options.state);
  const done = after.servers[guild.id]?.channels[channel.id];
  t.equal(done?.done_above, undefined, 'the span is folded into the cursor');
  t.ok(done?.last_message_id && compareSnowflakes(done.last_message_id, span.to) >= 0, 'the cursor is at or past the span');
  while (fake.stats.inFlight > 0) await nextTurn(); // a request left in flight when the walks met is logged when it closes
  fake.resetLog();
  const third: DpsEvent[] = [];
  t.equal((await runArchive(options, { emit: (event) => void third.push(event) })).exitCode, 0);
  t.equal(third.filter((e) => e.event === 'saved').length, 0, 'a further run saves nothing');
  t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length, 1, 'and asks for one page: the snapshot');
});
