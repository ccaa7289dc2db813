// What Discord (or whatever answers in its place) sends is checked at the edge, with the fake's opt-in hostile
// modes (fixtures/fake-hostile.ts): a history page that is HTML or not an array, or that holds an id that is
// not a snowflake, is retried (bounded), then a reported failure (exit 1) that never moves the cursor; an
// attachment whose url is not an http(s) string is a `failed` event, never dropped; a CDN body of exactly the
// announced size whose content type is HTML is `failed` with reason content_type_mismatch, not a .png.

import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord, HostileOptions } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { manifest, status } from '../../lib/index.js';
import { collect, listFiles, runLibrary } from '../helpers/harness.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

t.jobs = 3; // each case has its own fake and folders

const NINES = '99999999999999999999999999999';
const HISTORY = 'GET /channels/:id/messages';
type Ev = { event: string; reason?: string; detail?: string; error?: string; attachment_id?: string; filename?: string; complete?: boolean };

async function setup(
  t: Test,
  hostile: HostileOptions,
): Promise<{ fake: FakeDiscord; options: ReturnType<typeof baseOptions> & { retries: number; backoffMs: number }; channelId: string }> {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 12, messages: 30, imageRatio: 0.5, sizes: [1_000, 4_000] }), hostile });
  t.teardown(() => fake.close());
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  return { fake, channelId, options: { ...baseOptions(fake, t.testdir(), channelId), retries: 2, backoffMs: 5 } };
}

async function cursorOf(state: string, channelId: string): Promise<string | null | undefined> {
  const report = await status(state);
  for (const server of Object.values(report.servers)) if (server.channels[channelId]) return server.channels[channelId].last_message_id;
  return undefined;
}

const pages: Array<[string, HostileOptions]> = [
  ['a 200 text/html history page', { historyHtml: 1_000 }],
  ['a JSON object instead of an array of messages', { historyObject: 1_000 }],
  [`a message id of 29 nines`, { messageId: NINES }],
];

for (const [name, hostile] of pages) {
  t.test(`${name}: retried, then a reported failure; the cursor does not move; a later clean run completes`, async (t) => {
    const { fake, options, channelId } = await setup(t, hostile);
    const run = await runLibrary(options);
    const events = run.events as unknown as Ev[];
    const summary = events.at(-1);
    t.equal(summary?.event, 'summary', 'a summary');
    t.equal(run.result.exitCode, 1, 'exit code 1, not 0');
    t.match(summary?.error, /invalid response.*(instead of JSON|instead of an array|not a snowflake)/, `the summary says why: ${summary?.error}`);
    t.notOk(
      events.some((e) => e.event === 'channel_done' && e.complete),
      'the channel is not reported complete',
    );
    t.equal(fake.requests.filter((r) => r.route === HISTORY).length, options.retries + 1, 'the page was asked for retries + 1 times, no more');
    t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'nothing downloaded');
    t.not(await cursorOf(options.state, channelId), NINES, 'the bad id never became the cursor');
    t.equal((await cursorOf(options.state, channelId)) ?? null, null, 'no cursor at all');
    t.notOk(JSON.stringify(await collect(manifest(options.state))).includes(NINES), 'the bad id is nowhere in the state');

    fake.setOption({ hostile: undefined });
    const again = await runLibrary(options);
    t.equal(again.result.exitCode, 0, 'the next run, with a sane API, completes');
    await assertExact(t, fake, options.out, options.state, channelId);
  });
}

t.test('one HTML page among good ones is retried away', async (t) => {
  const { fake, options, channelId } = await setup(t, { historyHtml: 1 });
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, 'exit 0');
  await assertExact(t, fake, options.out, options.state, channelId);
});

for (const value of [12345, 'javascript:alert(1)']) {
  t.test(`attachment url ${JSON.stringify(value)}: a failed event per attachment, nothing fetched, retried once the API is sane`, async (t) => {
    const { fake, options, channelId } = await setup(t, { attachmentUrl: { value } });
    const expected = await collect(fake.expected({ channelId }));
    const run = await runLibrary(options);
    const failed = (run.events as unknown as Ev[]).filter((e) => e.event === 'failed');
    t.equal(run.result.exitCode, 1, 'exit 1');
    t.same(failed.map((e) => e.attachment_id).sort(), expected.map((a) => a.attachment_id).sort(), 'every attachment is reported, none dropped');
    t.ok(
      failed.every((e) => e.reason === 'invalid_attachment' && /not an http\(s\) URL/.test(e.detail ?? '')),
      `reason invalid_attachment: ${failed[0]?.detail}`,
    );
    t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'nothing fetched');
    t.same(await listFiles(options.out), [], 'nothing written');

    fake.setOption({ hostile: undefined });
    const again = await runLibrary(options);
    t.equal(
      again.result.exitCode,
      0,
      `the next run re-fetches the messages and saves every file: ${JSON.stringify(again.events.filter((e) => e.event === 'failed').slice(0, 1))}`,
    );
    await assertExact(t, fake, options.out, options.state, channelId);
  });
}

t.test('a CDN body of exactly the declared size but text/html: failed content_type_mismatch, not saved', async (t) => {
  const { fake, options, channelId } = await setup(t, { cdnHtml: true });
  const expected = await collect(fake.expected({ channelId }));
  const run = await runLibrary(options);
  const events = run.events as unknown as Ev[];
  const failed = events.filter((e) => e.event === 'failed');
  t.equal(run.result.exitCode, 1, 'exit 1');
  t.equal(events.filter((e) => e.event === 'saved').length, 0, 'nothing saved');
  t.equal(failed.length, expected.length, 'every image failed');
  t.ok(
    failed.every((e) => e.reason === 'content_type_mismatch'),
    `reason content_type_mismatch: ${failed[0]?.detail}`,
  );
  t.same(await listFiles(options.out), [], 'no .png holding HTML, no temp file');

  fake.setOption({ hostile: undefined });
  const again = await runLibrary(options);
  t.equal(again.result.exitCode, 0, 'the next run saves them');
  await assertExact(t, fake, options.out, options.state, channelId);
});
