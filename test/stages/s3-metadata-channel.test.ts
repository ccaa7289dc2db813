// --write-metadata=channel with --out s3:// (lib/stages/s3-metadata-channel.ts) on a real LevelDB and a real S3
// server (Ceph RGW): the object is rewritten from the state's lines at the end of a pass (complete, in order, one
// line per message); a pass killed before its rewrite leaves the lines in the state and the next pass rewrites the
// object with no new line of its own; during a pass a rewrite waits for the interval (an injected clock), or ten
// times as long as a slow last rewrite took; an object dps did not write is never replaced; a hard stop rewrites
// nothing and loses nothing; a 60 MB log is rewritten holding only the upload's parts (live heap measured after
// full collections).

import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { startS3Proxy } from '../../fixtures/s3-proxy.js';
import { MIN_PART_SIZE } from '../../lib/s3/destination.js';
import type { S3Target } from '../../lib/s3/destination.js';
import { keyOfPath } from '../../lib/s3/destination.js';
import { itemFolder } from '../../lib/stages/claim-path.js';
import { writeMetadata } from '../../lib/stages/metadata.js';
import { S3ChannelMetadata, nextRewriteAt } from '../../lib/stages/s3-metadata-channel.js';
import type { MetadataOptions } from '../../lib/stages/metadata-fields.js';
import type { Store } from '../../lib/store/store.js';
import type { ChannelContext, ItemResult, MediaItem, SavedResult } from '../../lib/types.js';
import { collect } from '../helpers/harness.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';
import { localItem, localWorld } from '../helpers/stage-items.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
v8.setFlagsFromString('--expose-gc'); // the memory test's live heap (a full collection before each sample)
const gc = vm.runInNewContext('gc') as () => void;
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

type World = Awaited<ReturnType<typeof localWorld>>;

async function target(): Promise<S3Target> {
  const bucket = await s3.createBucket(bucketName('log'));
  return { client, settings: { bucket, prefix: 'p', region: 'us-east-1', forcePathStyle: true, copyDuplicates: false, partSize: MIN_PART_SIZE, queueSize: 2 } };
}

function options(world: World, s3Target: S3Target, over: Partial<MetadataOptions> = {}): MetadataOptions {
  return {
    mode: 'channel',
    store: world.store as Store,
    out: `s3://${s3Target.settings.bucket}/p`,
    folders: new Map(),
    disk: world.disk,
    context: world.context,
    retry: false,
    s3: s3Target,
    locks: world.locks,
    ...over,
  };
}

function item(context: ChannelContext, id: string, message: string, over: Partial<MediaItem> = {}): MediaItem {
  return localItem(context, id, {
    message_id: message,
    message: { edited_timestamp: null, author_display_name: 'P', author_bot: false, content: `m ${message}` },
    ...over,
  });
}

function saved(s3Target: S3Target, it: MediaItem): SavedResult {
  return {
    kind: 'saved',
    item: it,
    path: `s3://${s3Target.settings.bucket}/${folderKey(it.context)}/${it.attachment_id}.png`,
    bytes: 3,
    sha256: 'ab'.repeat(32),
  };
}

async function pass(world: World, s3Target: S3Target, results: ItemResult[], over: Partial<MetadataOptions> = {}): Promise<ItemResult[]> {
  return collect(
    writeMetadata(
      (async function* () {
        yield* results;
      })(),
      options(world, s3Target, over),
    ),
  );
}

// The log object's lines (undefined: no object).
async function logLines(c: S3Client, bucket: string, key: string): Promise<Array<Record<string, unknown>> | undefined> {
  try {
    const got = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await got.Body!.transformToString();
    if (text !== '') t.ok(text.endsWith('\n'), 'whole lines');
    return text === ''
      ? []
      : text
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

// The channel folder's key (prefix p) of localWorld's context, and its log's.
const folderKey = (context: ChannelContext): string => keyOfPath(itemFolder({ out: '/p' }, item(context, '1', '1')));
const logKey = (context: ChannelContext, name = 'messages.ndjson'): string => `${folderKey(context)}/${name}`;

t.test('the object is rewritten at the end of a pass: every line, in order, one per message', async (t) => {
  const world = await localWorld(t);
  const s3Target = await target();
  const { context } = world;
  const a = saved(s3Target, item(context, '11', '901', { last_of_message: false }));
  const b = saved(s3Target, item(context, '12', '901', { index: 1 }));
  const c = saved(s3Target, item(context, '13', '902'));
  const failed: ItemResult = { kind: 'failed', item: item(context, '14', '903'), reason: 'http_404' };
  const results = [a, b, c, failed];
  const passed = await pass(world, s3Target, results);
  t.ok(
    passed.every((r, i) => r === results[i]),
    'the results pass through, in order',
  );
  const lines = await logLines(client, s3Target.settings.bucket, logKey(context));
  t.same(
    lines?.map((l) => [l.message_id, (l.files as Array<{ attachment_id: string }>).map((f) => f.attachment_id)]),
    [
      ['901', ['11', '12']],
      ['902', ['13']],
    ],
    'one line per message with files, in order',
  );
  t.match(lines?.[0], { content: 'm 901', channel_id: context.channel_id });

  // The same messages again (an interrupted run's files, announced) and a new one: one new line only.
  const again = [{ ...c, kind: 'archived' as const, announce: true }, saved(s3Target, item(context, '15', '904'))];
  await pass(world, s3Target, again);
  t.same(
    (await logLines(client, s3Target.settings.bucket, logKey(context)))?.map((l) => l.message_id),
    ['901', '902', '904'],
    'a message already listed gets no second line',
  );
  t.same(await world.store.metadataLog(context.channel_id), { path: `s3://${s3Target.settings.bucket}/${logKey(context)}`, length: 0, lines: 3, uploaded: 3 });
});

t.test('a pass killed before its rewrite: the next pass, with no line of its own, rewrites the object', async (t) => {
  const world = await localWorld(t);
  const s3Target = await target();
  const { context } = world;
  // The killed pass: its lines reach the state, its close (the rewrite) never runs.
  const killed = new S3ChannelMetadata({ ...options(world, s3Target), s3: s3Target, clock: new ManualClock() });
  for (const [id, message] of [
    ['21', '911'],
    ['22', '912'],
  ] as const) {
    killed.file(saved(s3Target, item(context, id, message)));
    await killed.messageDone();
  }
  t.same(await logLines(client, s3Target.settings.bucket, logKey(context)), [], 'the object is there, without the lines yet');
  await pass(world, s3Target, []);
  t.same(
    (await logLines(client, s3Target.settings.bucket, logKey(context)))?.map((l) => l.message_id),
    ['911', '912'],
    'the next pass rewrote it from the state',
  );
});

// A channel log writer on a manual clock (60 s interval): the line counts of its rewrites so far, and a promise of
// the next rewrite's end.
function timedWriter(world: World, s3Target: S3Target) {
  const clock = new ManualClock();
  const written: number[] = [];
  let wake: (() => void) | undefined;
  const onLogWritten = (_url: string, lines: number): void => {
    written.push(lines);
    wake?.();
  };
  const rewritten = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  const writer = new S3ChannelMetadata({ ...options(world, s3Target), s3: s3Target, clock, logIntervalMs: 60_000, onLogWritten });
  return { clock, written, rewritten, writer };
}

t.test('during a pass: a rewrite once the interval has passed since the last, never before', async (t) => {
  const world = await localWorld(t);
  const s3Target = await target();
  const { context } = world;
  const { clock, written, rewritten, writer } = timedWriter(world, s3Target);
  writer.file(saved(s3Target, item(context, '31', '921')));
  await writer.messageDone();
  await clock.advance(59_999);
  t.same(written, [], 'not before the interval');
  t.same(await logLines(client, s3Target.settings.bucket, logKey(context)), [], 'the object has no line yet');
  let next = rewritten();
  await clock.advance(1);
  await next;
  t.same(written, [1], 'rewritten once the interval passed');
  t.same(
    (await logLines(client, s3Target.settings.bucket, logKey(context)))?.map((l) => l.message_id),
    ['921'],
  );

  writer.file(saved(s3Target, item(context, '32', '922')));
  await writer.messageDone();
  writer.file(saved(s3Target, item(context, '33', '923')));
  await writer.messageDone();
  await clock.advance(59_000);
  t.same(written, [1], 'the next one waits an interval after the last');
  next = rewritten();
  await clock.advance(1_000);
  await next;
  t.same(written, [1, 3], 'both new lines in one rewrite');
  await writer.close();
  t.same(written, [1, 3], 'nothing new at the end: no rewrite');
  t.same(
    (await logLines(client, s3Target.settings.bucket, logKey(context)))?.map((l) => l.message_id),
    ['921', '922', '923'],
  );
});

t.test('a rewrite waits ten times as long as the last one took when that is longer than the interval', async (t) => {
  t.equal(nextRewriteAt(1_000, 100, 60_000), 61_000, 'a fast rewrite: the interval');
  t.equal(nextRewriteAt(1_000, 30_000, 60_000), 301_000, 'a 30 s rewrite: 300 s later');
  // End to end on the injected clock: the log's PUT is held by a proxy while the clock moves 30 s (a slow rewrite);
  // the next rewrite then waits 300 s after it ended, not the 60 s interval.
  const proxy = await startS3Proxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const viaProxy = s3.client({ endpoint: proxy.endpoint });
  t.teardown(() => viaProxy.destroy());
  const world = await localWorld(t);
  const s3Target = { ...(await target()), client: viaProxy };
  const { context } = world;
  const { clock, written, rewritten, writer } = timedWriter(world, s3Target);
  // The rewrite's PUT (not the empty object that takes the name when the log is created).
  const hold = proxy.hold({ next: 1, match: (r) => r.method === 'PUT' && r.key.endsWith('messages.ndjson') && r.bodyBytes !== 0 });
  writer.file(saved(s3Target, item(context, '35', '925')));
  await writer.messageDone();
  let next = rewritten();
  await clock.advance(60_000); // the interval: the rewrite starts, and its PUT is held
  await hold.reached;
  await clock.advance(30_000); // it takes 30 s
  hold.release();
  await next;
  t.same(written, [1], 'the slow rewrite is done');
  writer.file(saved(s3Target, item(context, '36', '926')));
  await writer.messageDone();
  t.equal(clock.sleeping, 1, 'the next rewrite is waiting');
  // A rewrite that has begun has ended its wait (its upload may still be on its way): the wait is what is checked.
  await clock.advance(60_000);
  t.equal(clock.sleeping, 1, 'still waiting after the 60 s interval');
  await clock.advance(239_999);
  t.equal(clock.sleeping, 1, 'still waiting just before 10 x 30 s');
  t.same(written, [1]);
  next = rewritten();
  await clock.advance(1);
  await next;
  t.same(written, [1, 2], 'rewritten 300 s after the slow one ended');
  await writer.close();
});

t.test('an object dps did not write holds the name: never replaced, the log takes another', async (t) => {
  const world = await localWorld(t);
  const s3Target = await target();
  const { context } = world;
  await client.send(new PutObjectCommand({ Bucket: s3Target.settings.bucket, Key: logKey(context), Body: 'not dps' }));
  const log: string[] = [];
  await pass(world, s3Target, [saved(s3Target, item(world.context, '41', '931'))], { log: (l) => log.push(l) });
  const other = logKey(world.context, `messages_${world.context.channel_id}.ndjson`);
  const got = await client.send(new GetObjectCommand({ Bucket: s3Target.settings.bucket, Key: logKey(context) }));
  t.equal(await got.Body!.transformToString(), 'not dps', 'the foreign object is intact');
  t.same(
    (await logLines(client, s3Target.settings.bucket, other))?.map((l) => l.message_id),
    ['931'],
    `the log is ${other}`,
  );
});

t.test('aborted before start, and a hard stop mid-pass: nothing rewritten, nothing lost', async (t) => {
  const world = await localWorld(t);
  const s3Target = await target();
  const { context } = world;
  const stop = new AbortController();
  stop.abort(new Error('stopped'));
  await t.resolves(pass(world, s3Target, [], { signal: stop.signal, transferSignal: stop.signal }), 'aborted before start: a clean end');
  t.equal(await logLines(client, s3Target.settings.bucket, logKey(context)), undefined, 'no object');

  const soft = new AbortController();
  const hard = new AbortController();
  const writer = new S3ChannelMetadata({ ...options(world, s3Target), s3: s3Target, signal: soft.signal, transferSignal: hard.signal });
  writer.file(saved(s3Target, item(context, '51', '941')));
  await writer.messageDone();
  soft.abort(new Error('SIGINT'));
  hard.abort(new Error('second SIGINT'));
  await writer.close().catch(() => undefined);
  t.same(await logLines(client, s3Target.settings.bucket, logKey(context)), [], 'a hard stop: the object is not rewritten');
  await pass(world, s3Target, []);
  t.same(
    (await logLines(client, s3Target.settings.bucket, logKey(context)))?.map((l) => l.message_id),
    ['941'],
    'the next pass: nothing lost',
  );

  // A soft stop alone (SIGINT): the end-of-pass rewrite still runs, as files in flight finish.
  const soft2 = new AbortController();
  const writer2 = new S3ChannelMetadata({ ...options(world, s3Target), s3: s3Target, signal: soft2.signal, transferSignal: new AbortController().signal });
  writer2.file(saved(s3Target, item(context, '52', '942')));
  await writer2.messageDone();
  soft2.abort(new Error('SIGINT'));
  await writer2.close();
  t.same(
    (await logLines(client, s3Target.settings.bucket, logKey(context)))?.map((l) => l.message_id),
    ['941', '942'],
    'a soft stop: rewritten',
  );
});

t.test('a log far larger than memory allows is streamed: the rewrite holds its parts, not the log', async (t) => {
  const world = await localWorld(t);
  const s3Target = await target();
  const { context } = world;
  const store = world.store as Store;
  await pass(world, s3Target, [saved(s3Target, item(context, '61', '951'))]); // the log exists, with one line
  const log = (await store.metadataLog(context.channel_id))!;
  const count = Number(process.env.DPS_LOG_LINES ?? 40_000);
  const filler = 'x'.repeat(1_500);
  const writes: Array<Promise<void>> = [];
  for (let n = 1; n < count; n++) {
    const line = `${JSON.stringify({ message_id: String(1_000_000 + n), files: [], filler })}\n`;
    writes.push(store.appendMetadataLine(context.channel_id, { ...log, lines: n + 1 }, line, { message_id: String(1_000_000 + n), files: [String(n)] }));
  }
  await Promise.all(writes);
  let logBytes = 0;
  for await (const line of store.metadataLines(context.channel_id, count)) logBytes += Buffer.byteLength(line);
  // Live memory (after a full collection: the upload's garbage is not what it holds), sampled during the rewrite.
  const live = (): number => {
    gc();
    const { heapUsed, external } = process.memoryUsage();
    return heapUsed + external;
  };
  const base = live();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, live())), 200);
  try {
    await pass(world, s3Target, []);
  } finally {
    clearInterval(sampler);
  }
  const grew = peak - base;
  const { partSize, queueSize } = s3Target.settings;
  // The parts uploading, the one filling, their copies on the way to the socket (a slow server): a few parts, while
  // holding the log (the attack: lines collected, then sent) measured 108 MiB for this 59 MiB log.
  const bound = partSize * (queueSize + 4) + 4 * 2 ** 20;
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  t.ok(grew < bound, `the rewrite of a ${mib(logBytes)} MiB log held at most ${mib(grew)} MiB more, under ${mib(bound)} MiB: a few parts, not the log`);
  const total = logBytes;
  const head = await client.send(new GetObjectCommand({ Bucket: s3Target.settings.bucket, Key: logKey(context), Range: 'bytes=0-0' }));
  t.equal(head.ContentRange, `bytes 0-0/${total}`, `the object is the whole log (${total} bytes)`);
  await head.Body?.transformToString();
  t.same(await store.metadataLog(context.channel_id), { ...log, lines: count, uploaded: count }, 'the object holds every line');
});
