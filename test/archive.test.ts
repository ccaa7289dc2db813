// End-to-end through the library against the fake Discord: full archive byte-for-byte, incremental runs,
// no-op resume, duplicates, hostile names, filters, and the cursor never skipping or repeating anything.

import t from 'tap';
import { baseOptions } from './helpers/verify.js';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { buildScenario, singleChannel } from '../fixtures/scenarios.js';
import { status } from '../lib/index.js';
import { collect, inode, listFiles, runLibrary, sha256File } from './helpers/harness.js';
import { regexRange } from './helpers/regex-escape.js';
import { eventsOf } from './helpers/events.js';

function messageRequests(fake: { requests: Array<{ route: string }> }): number {
  return fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length;
}

t.test('a channel is archived completely and exactly, then incrementally', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 1500, imageRatio: 0.3 }) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const base = baseOptions(fake, dir, channel.id);

  const first = await runLibrary(base);
  t.equal(first.result.exitCode, 0, 'exit code 0');
  const expected = await collect(fake.expected({ channelId: channel.id }));
  t.ok(expected.length > 300, `fake holds ${expected.length} attachments`);
  const saved = eventsOf(first.events, 'saved');
  t.equal(saved.length, expected.length, 'one saved event per expected attachment');
  t.equal(new Set(saved.map((s) => s.attachment_id)).size, saved.length, 'no attachment saved twice');
  const byId = new Map(saved.map((s) => [s.attachment_id, s]));
  let exact = 0;
  for (const want of expected) {
    const got = byId.get(want.attachment_id);
    if (got && got.sha256 === want.sha256 && got.bytes === want.size && (await sha256File(got.path)) === want.sha256) exact++;
  }
  t.equal(exact, expected.length, 'every file on disk is byte-identical to the fake');
  const files = await listFiles(base.out);
  t.equal(files.filter((f) => f.endsWith('.dps-tmp')).length, 0, 'no temp files left');
  t.equal(files.length, expected.length, 'no extra files');
  for (const s of saved) t.notOk(relative(base.out, s.path).startsWith('..'), 'inside --out') || t.fail(s.path);
  const done = first.events.find((e) => e.event === 'channel_done') as { cursor: string; complete: boolean; messages: number } | undefined;
  t.ok(done?.complete, 'channel_done says complete');
  const summary = first.events.at(-1) as { event: string; saved: number };
  t.equal(summary.event, 'summary', 'summary is the last event');
  t.equal(summary.saved, expected.length);

  // A second run with nothing new: at most 2 message requests, nothing downloaded.
  fake.resetLog();
  const noop = await runLibrary(base);
  t.equal(noop.events.filter((e) => e.event === 'saved').length, 0, 'no-op re-run saves nothing');
  t.ok(messageRequests(fake) <= 2, `no-op re-run made ${messageRequests(fake)} message requests`);
  t.equal(fake.requests.filter((r) => r.route.startsWith('GET /attachments')).length, 0, 'no-op re-run downloads nothing');

  // Append messages: only the new ones are fetched.
  fake.appendMessages(channel.id, 120, { imageRatio: 0.5 });
  const after = await collect(fake.expected({ channelId: channel.id }));
  const fresh = after.filter((a) => !byId.has(a.attachment_id));
  t.ok(fresh.length > 20, `${fresh.length} new attachments appended`);
  fake.resetLog();
  const incremental = await runLibrary(base);
  const savedAgain = eventsOf(incremental.events, 'saved');
  t.same(savedAgain.map((s) => s.attachment_id).sort(), fresh.map((a) => a.attachment_id).sort(), 'exactly the new attachments are saved');
  t.equal(fake.requests.filter((r) => r.route.startsWith('GET /attachments')).length, fresh.length, 'CDN requests only for new files');
  t.ok(messageRequests(fake) <= 4, `incremental run made ${messageRequests(fake)} message requests`);

  const report = await status(base.state);
  const entry = report.servers[guild.id]?.channels[channel.id];
  t.equal(entry?.total_images, after.length, 'status counts every archived file');
  t.equal(entry?.last_message_id, after.at(-1)?.message_id ?? entry?.last_message_id);
});

t.test('identical bytes are stored once (hard link) and hostile names stay inside --out', async (t) => {
  const scenario = buildScenario({
    seed: 7,
    guilds: [{ name: 'Evil/..\\Server', channels: [{ name: '../../etc', messages: 60, imageRatio: 0.2, special: ['hostile', 'duplicates'] }] }],
  });
  const fake = await startFakeDiscord({ scenario });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const out = join(dir, 'out');
  const run = await runLibrary({ token: fake.token, api: fake.api, guildId: guild.id, channelIds: [channel.id], out, state: join(dir, 'state'), types: 'all' });
  t.equal(run.result.exitCode, 0);
  const saved = eventsOf(run.events, 'saved');
  const expected = await collect(fake.expected({ channelId: channel.id }));
  t.equal(saved.length, expected.length, 'every attachment saved');
  const dups = saved.filter((s) => s.duplicate_of);
  t.ok(dups.length >= 1, 'duplicates are reported with duplicate_of');
  for (const d of dups) {
    t.equal(await inode(d.path), await inode(d.duplicate_of!), 'duplicate is a hard link to the first copy');
  }
  const paths = new Set(saved.map((s) => s.path));
  t.equal(paths.size, saved.length, 'every attachment has its own path');
  for (const s of saved) {
    t.notOk(relative(out, s.path).startsWith('..'), `inside out: ${s.path}`);
    t.ok(existsSync(s.path));
    for (const part of relative(out, s.path).split('/')) {
      t.notMatch(
        part,
        new RegExp(String.raw`[<>:"|?*\\${regexRange(0x00, 0x1f)}]|^(con|prn|aux|nul|com\d|lpt\d)(\.|$)|[. ]$`, 'i'),
        `portable component: ${part}`,
      );
      t.ok(Buffer.byteLength(part) <= 255);
    }
  }
  t.equal(existsSync(join(dir, 'etc')), false, 'nothing escaped');
});

t.test('filters: types, max size, date window', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 300, imageRatio: 0.4, otherRatio: 0.2, special: 'mixed' }) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const base = { token: fake.token, api: fake.api, guildId: guild.id, channelIds: [channel.id], out: join(dir, 'out'), state: join(dir, 'state') };
  const run = await runLibrary({ ...base, maxSize: '100KB' });
  const saved = eventsOf(run.events, 'saved');
  const skipped = eventsOf(run.events, 'skipped');
  const isPhoto = (a: { content_type?: string | undefined; filename: string }) =>
    a.content_type ? /^image\/(png|jpe?g|gif|webp)$/.test(a.content_type) : /\.(png|jpe?g|gif|webp)$/i.test(a.filename);
  const want = expected.filter((a) => isPhoto(a) && a.size <= 100_000);
  t.same(saved.map((s) => s.attachment_id).sort(), want.map((a) => a.attachment_id).sort(), 'only photos up to 100 KB');
  t.ok(
    skipped.some((s) => s.reason === 'type'),
    'non-photos skipped with reason type',
  );
  t.ok(
    skipped.some((s) => s.reason === 'too_large'),
    'large files skipped with reason too_large',
  );
  t.equal(saved.length + skipped.length, expected.length, 'every attachment accounted for');

  // A date window: only messages inside it.
  const middle = expected[Math.floor(expected.length / 2)]!;
  const windowed = await runLibrary({ ...base, out: join(dir, 'out2'), state: join(dir, 'state2'), types: 'all', after: middle.timestamp.slice(0, 10) });
  const inWindow = expected.filter((a) => a.timestamp.slice(0, 10) >= middle.timestamp.slice(0, 10));
  t.equal(windowed.events.filter((e) => e.event === 'saved').length, inWindow.length, '--after keeps messages from that day on');
});

t.test('a windowed run, then a full one, then the window again: every file announced once, downloaded once', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 400, imageRatio: 0.4 }) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const base = { ...baseOptions(fake, dir, channel.id) };
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const cdn = (): number => fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).length;
  const middle = expected[Math.floor(expected.length / 2)]!;
  const window = { after: middle.timestamp.slice(0, 10) };
  const first = await runLibrary({ ...base, ...window });
  const inWindow = eventsOf(first.events, 'saved').map((e) => e.attachment_id);
  t.ok(inWindow.length > 0 && inWindow.length < expected.length, `the window holds ${inWindow.length} of ${expected.length} files`);
  const full = await runLibrary(base);
  const later = eventsOf(full.events, 'saved').map((e) => e.attachment_id);
  t.same(
    later.filter((id) => inWindow.includes(id)),
    [],
    'the full run announces none of the window’s files again',
  );
  t.same([...inWindow, ...later].sort(), expected.map((a) => a.attachment_id).sort(), 'together: every file, once');
  t.equal(cdn(), expected.length, 'each downloaded once');
  const again = await runLibrary({ ...base, ...window });
  t.same(eventsOf(again.events, 'saved'), [], 'the window again: nothing announced');
  t.equal(cdn(), expected.length, 'nothing downloaded again');
});

t.test('a bot without the Message Content intent is warned once per run, with the channel that showed it', async (t) => {
  const fake = await startFakeDiscord({
    scenario: buildScenario({
      guilds: [
        {
          name: 'G',
          channels: [
            { name: 'a', messages: 60, imageRatio: 0.5 },
            { name: 'b', messages: 60, imageRatio: 0.5 },
          ],
        },
      ],
    }),
    messageContentIntent: false,
  });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const run = await runLibrary({ token: fake.token, api: fake.api, guildId: guild.id, allChannels: true, out: join(dir, 'out'), state: join(dir, 'state') });
  const warnings = run.events.filter((e) => e.event === 'warning' && e.code === 'message_content_intent') as Array<{ channel_id: string; guild_id: string }>;
  t.equal(warnings.length, 1, 'one warning');
  t.ok(
    guild.channels.some((c) => c.id === warnings[0]?.channel_id),
    'names a channel of the run',
  );
  t.equal(warnings[0]?.guild_id, guild.id);
  t.equal(fake.requests.filter((r) => r.route === 'GET /applications/@me').length, 1, 'Discord asked once');
});
