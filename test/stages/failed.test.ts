// The retry pass (lib/stages/failed.ts) against the fake Discord with a real LevelDB: a failed item whose message
// (or channel) was deleted reaches the terminal state `gone` (a `skipped` event with reason `deleted`), leaves the
// retry queue and costs no request on later runs; a retried item keeps what the name pattern needs ({author},
// {index}), so it lands on the path the first try would have used.

import t from 'tap';
import { dirname, join, relative } from 'node:path';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { manifest, status } from '../../lib/index.js';
import type { DpsEvent } from '../../lib/index.js';
import type { UrlRefresher } from '../../lib/discord/refresh.js';
import { failedItems } from '../../lib/stages/failed.js';
import { recordFailure } from '../../lib/stages/record.js';
import { collect, runLibrary } from '../helpers/harness.js';
import { localItem, localWorld } from '../helpers/stage-items.js';
import { baseOptions } from '../helpers/verify.js';

type FileEvent = { event: string; reason?: string; attachment_id: string; message_id: string; path: string; detail?: string };

const files = (events: DpsEvent[], kind: string, reason?: string): FileEvent[] =>
  (events as unknown as FileEvent[]).filter((e) => e.event === kind && e.attachment_id !== undefined && (reason === undefined || e.reason === reason));
const ids = (events: FileEvent[]): string[] => events.map((e) => e.attachment_id).sort();

// Requests that concern one of these messages or attachments (message GETs, CDN downloads), plus refresh POSTs.
function requestsFor(fake: FakeDiscord, messageIds: Set<string>, attachmentIds: Set<string>): string[] {
  return fake.requests
    .filter((r) => {
      if (r.route === 'POST /attachments/refresh-urls') return true;
      const parts = r.path.split('/');
      return parts.some((p) => messageIds.has(p) || attachmentIds.has(p));
    })
    .map((r) => `${r.method} ${r.path}`);
}

async function failingRun(t: Test, seed: number, extra: Record<string, unknown> = {}) {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed, messages: 120, imageRatio: 0.6, sizes: [500, 4_000] }),
    faults: { error5xxRate: 0.4, seed: 2, target: 'cdn' },
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), retries: 0, backoffMs: 1, ...extra };
  const first = await runLibrary(options);
  t.equal(first.result.exitCode, 1, 'some files failed');
  fake.setOption({ faults: {} });
  return { fake, channel, options, failed: files(first.events, 'failed') };
}

t.test('a failed item whose message was deleted becomes gone: skipped deleted, out of the queue, no request later', async (t) => {
  const { fake, channel, options, failed } = await failingRun(t, 41);
  t.ok(failed.length >= 6, `${failed.length} files failed`);
  const deleted = failed.filter((_, i) => i % 2 === 0);
  const deletedMessages = new Set(deleted.map((f) => f.message_id));
  for (const id of deletedMessages) fake.deleteMessage(channel.id, id);
  const goneIds = failed.filter((f) => deletedMessages.has(f.message_id));
  const kept = failed.filter((f) => !deletedMessages.has(f.message_id));

  fake.resetLog();
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, `no failure left (${second.logs.join('')})`);
  t.same(ids(files(second.events, 'skipped', 'deleted')), ids(goneIds), 'each file of a deleted message: skipped, reason deleted');
  t.same(ids(files(second.events, 'saved')), ids(kept), 'the others are saved');
  t.same(files(second.events, 'failed'), [], 'nothing failed again');
  t.ok(
    files(second.events, 'skipped', 'deleted').every((e) => /Unknown Message/.test(e.detail ?? '')),
    'the detail says why',
  );
  const gets = fake.requests.filter((r) => r.route === 'GET /channels/:id/messages/:message_id');
  t.ok(gets.length <= deletedMessages.size + goneIds.length, `at most one message GET per gone file (${gets.length})`);

  const records = await collect(manifest(options.state));
  t.same(ids(records.filter((r) => r.status === 'gone') as unknown as FileEvent[]), ids(goneIds), 'their records say gone');
  const entry = (await status(options.state)).servers[fake.scenario.guilds[0]!.id]?.channels[channel.id];
  t.equal(entry?.pending, 0, 'a gone item is not pending');
  t.equal(entry?.failed, 0, 'nor failed');
  t.equal(entry?.gone, goneIds.length, 'status counts it as gone');

  fake.resetLog();
  const third = await runLibrary(options);
  t.equal(third.result.exitCode, 0);
  t.same(requestsFor(fake, deletedMessages, new Set(goneIds.map((f) => f.attachment_id))), [], 'no request for gone items on a later run');
  t.same(files(third.events, 'skipped', 'deleted'), [], 'and no event');
});

t.test('a failed item whose channel was deleted becomes gone under retry-failed', async (t) => {
  const { fake, channel, options, failed } = await failingRun(t, 42);
  t.ok(failed.length > 0);
  fake.deleteChannel(channel.id);
  fake.resetLog();
  const retry = await runLibrary({ ...options, retryOnly: true, channelIds: [] });
  t.equal(retry.result.exitCode, 0);
  t.same(ids(files(retry.events, 'skipped', 'deleted')), ids(failed), 'every failed file: skipped, reason deleted');
  t.ok(
    files(retry.events, 'skipped', 'deleted').every((e) => /Unknown Channel/.test(e.detail ?? '')),
    'the detail says why',
  );
  fake.resetLog();
  const again = await runLibrary({ ...options, retryOnly: true, channelIds: [] });
  t.equal(again.result.exitCode, 0);
  t.same(
    fake.requests.filter((r) => r.kind === 'cdn' || r.route.includes('messages') || r.route.includes('refresh')),
    [],
    'nothing asked for them again',
  );
});

t.test('a retried item keeps {author} and {index}: the same path as a first try', async (t) => {
  const pattern = '{author}_{index}_{filename}';
  const { options, failed } = await failingRun(t, 43, { namePattern: pattern });
  t.ok(failed.length > 0);
  const retried = await runLibrary(options);
  t.equal(retried.result.exitCode, 0);
  const saved = files(retried.events, 'saved');
  t.same(ids(saved), ids(failed), 'the failed files are saved by the retry');

  // The same channel archived in one go, without faults: the paths every file should have.
  const clean = { ...options, out: join(dirname(options.out), 'clean-out'), state: join(dirname(options.out), 'clean-state') };
  const reference = await runLibrary(clean);
  const want = new Map(files(reference.events, 'saved').map((e) => [e.attachment_id, relative(clean.out, e.path)]));
  // A name another file of the same author, index and name already holds gets the attachment id (whichever was
  // saved second), so the comparison ignores that suffix.
  const unsuffixed = (path: string | undefined, id: string): string | undefined => path?.replace(`_${id}`, '');
  const differ = saved.filter((e) => unsuffixed(relative(options.out, e.path), e.attachment_id) !== unsuffixed(want.get(e.attachment_id), e.attachment_id));
  t.same(
    differ.map((e) => [relative(options.out, e.path), want.get(e.attachment_id)]),
    [],
    'every retried file has the path of a first try',
  );
  t.ok(
    saved.some((e) => !/^_/.test(relative(options.out, e.path).split('/').pop() ?? '')),
    'the author is in the name',
  );
});

t.test('the retry pass never drops an item silently: refresh-urls refused and the message deleted -> skipped deleted, gone', async (t) => {
  const { fake, channel, options, failed } = await failingRun(t, 43);
  t.ok(failed.length >= 2, `${failed.length} files failed`);
  const deletedMessages = new Set(failed.map((f) => f.message_id));
  for (const id of deletedMessages) fake.deleteMessage(channel.id, id);
  // The refresh batch fails, so the retry pass learns of each file from its message, before any download.
  fake.forceStatus('POST /attachments/refresh-urls', 400, 1_000_000);
  fake.resetLog();
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, `no failure left (${second.logs.join('')})`);
  t.same(ids(files(second.events, 'skipped', 'deleted')), ids(failed), 'every failed file of a deleted message is reported, none dropped');
  t.same(fake.requests.filter((r) => r.route.startsWith('GET /attachments')).length, 0, 'no download was tried');
  const records = await collect(manifest(options.state));
  t.equal(records.filter((r) => r.status === 'failed').length, 0, 'nothing is left in the retry queue');
  fake.resetLog();
  const third = await runLibrary(options);
  t.same(requestsFor(fake, deletedMessages, new Set(failed.map((f) => f.attachment_id))), [], 'no request for them on a later run');
  t.same(files(third.events, 'skipped', 'deleted'), [], 'and no event');
});

// failedItems on its own (real LevelDB): the queue read back as items with renewed links; a stop before the
// read or while the links are renewed yields nothing more. The refresher is a stand-in here (the runs above
// use the real one against the fake): what matters is when the stage looks at the signal.
async function queued(t: Test, ids: readonly string[]): Promise<Awaited<ReturnType<typeof localWorld>>> {
  const world = await localWorld(t);
  for (const id of ids)
    await recordFailure(world.store, { kind: 'failed', item: localItem(world.context, id), reason: 'http_503', detail: 'CDN answered 503' });
  return world;
}
const renewing = (onRenew: () => void = () => undefined): UrlRefresher =>
  ({
    renew: async (item: { attachmentId: string }) => {
      onRenew();
      return { url: `https://cdn.discordapp.com/attachments/2/${item.attachmentId}/fresh.png` };
    },
  }) as unknown as UrlRefresher;

t.test('failedItems: each queued item, its link renewed', async (t) => {
  const world = await queued(t, ['61', '62']);
  const items = await collect(failedItems(world.context, { store: world.store, refresher: renewing() }));
  t.same(
    items.map((i) => [i.attachment_id, i.url.endsWith('/fresh.png')]),
    [
      ['61', true],
      ['62', true],
    ],
  );
});

t.test('failedItems aborted before start: rejects, nothing yielded', async (t) => {
  const world = await queued(t, ['63']);
  const controller = new AbortController();
  controller.abort();
  const yielded: string[] = [];
  await t.rejects(
    (async () => {
      for await (const item of failedItems(world.context, { store: world.store, refresher: renewing(), signal: controller.signal }))
        yielded.push(item.attachment_id);
    })(),
  );
  t.same(yielded, []);
});

t.test("failedItems aborted mid-flight (while a batch's links are renewed): rejects before yielding it", async (t) => {
  const world = await queued(t, ['64', '65', '66']);
  const controller = new AbortController();
  const yielded: string[] = [];
  await t.rejects(
    (async () => {
      for await (const item of failedItems(world.context, {
        store: world.store,
        refresher: renewing(() => controller.abort()),
        signal: controller.signal,
        batch: 2,
      }))
        yielded.push(item.attachment_id);
    })(),
  );
  t.same(yielded, [], 'the renewed batch is not yielded once the run stopped');
});

t.test('--path-pattern with {author}, {year}, {month}: a retried file lands in the folder of a first try', async (t) => {
  const layout = { namePattern: '{message_id}_{filename}', pathPattern: '{author}/{year}/{month}' };
  const { options, failed } = await failingRun(t, 44, layout);
  t.ok(failed.length > 0);
  const retried = await runLibrary(options);
  t.equal(retried.result.exitCode, 0);
  const saved = files(retried.events, 'saved');
  t.same(ids(saved), ids(failed), 'the failed files are saved by the retry');
  const clean = { ...options, out: join(dirname(options.out), 'clean-out'), state: join(dirname(options.out), 'clean-state') };
  const reference = await runLibrary(clean);
  const want = new Map(files(reference.events, 'saved').map((e) => [e.attachment_id, relative(clean.out, e.path)]));
  t.same(
    saved.map((e) => relative(options.out, e.path)),
    saved.map((e) => want.get(e.attachment_id)),
    'every retried file has the path of a first try',
  );
  t.ok(
    saved.every((e) => /^user\d+_\d+\/\d{4}\/\d{2}\//.test(relative(options.out, e.path))),
    'author, year and month folders',
  );
});
