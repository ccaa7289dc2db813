// `dps follow --all-channels` end to end, as a server changes under it: a thread created live (THREAD_CREATE) is
// followed and what is posted in it archived; an edit that adds a file (MESSAGE_UPDATE) archives that file; a
// deleted channel or thread (CHANNEL_DELETE, THREAD_DELETE) is no longer followed and its archive is kept, while
// the other channels go on. Every file once, byte-exact, downloaded once.

import t from 'tap';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { checkArchive } from '../helpers/verify.js';
import { allSaved, startFollow } from './follow-cli.js';
import { readProgressFile } from '../../lib/output/progress-file.js';
import { openStore } from '../../lib/store/open.js';

t.test('a live thread, an edit adding a file, deleted channel and thread: followed as they change', async (t) => {
  const scenario = buildScenario({
    seed: 25,
    guilds: [
      {
        name: 'Live',
        channels: [
          { name: 'main', messages: 15, imageRatio: 0.5 },
          { name: 'doomed', messages: 15, imageRatio: 0.5 },
        ],
      },
    ],
  });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const guildId = fake.scenario.guilds[0]!.id;
  const [main, doomed] = fake.scenario.guilds[0]!.channels.map((c) => c.id) as [string, string];
  const follow = startFollow(t, fake, ['--server-id', guildId, '--all-channels', '--out', out, '--state', state, '--types', 'all']);
  await follow.until('the catch-up of both channels', () => follow.events.filter((e) => e.event === 'channel_done').length >= 2);

  // A thread created now: followed from its THREAD_CREATE, its first message archived.
  const thread = fake.createThread(main, { name: 'new-thread' });
  const inThread = fake.postMessage(thread, { attachments: 2 });
  await follow.until('the files posted in the new thread', () => allSaved(follow, inThread.files));
  const threadPaths = follow.events.filter((e) => e.event === 'saved' && e.channel_id === thread).map((e) => String(e.path));
  t.equal(threadPaths.length, 2, 'both files of the thread, announced once');
  t.ok(
    threadPaths.every((p) => p.includes('threads')),
    'saved under its parent channel’s threads folder',
  );

  // An edit that adds a file: that file is archived, the first one is not downloaded again.
  const posted = fake.postMessage(main, { attachments: 1 });
  await follow.until('the live file', () => allSaved(follow, posted.files));
  const edited = fake.updateMessage(main, posted.id, { attachments: 1 });
  t.equal(edited.files.length, 2, 'the edit adds a file');
  await follow.until('the file added by the edit', () => allSaved(follow, edited.files));

  // The doomed channel is deleted: no longer followed, its archive kept, the others go on.
  const doomedFiles = follow.events.filter((e) => e.event === 'saved' && e.channel_id === doomed).map((e) => String(e.path));
  t.ok(doomedFiles.length > 0, 'the doomed channel had files');
  fake.deleteChannel(doomed);
  await follow.until('the deletion is noticed', () => /#doomed.*was deleted: no longer followed \(its archive is kept\)/.test(follow.stderr()));
  fake.deleteThread(thread);
  await follow.until('the thread deletion is noticed', () => /new-thread.*was deleted: no longer followed/.test(follow.stderr()));
  const after = fake.postMessage(main, { attachments: 1 });
  await follow.until('a file posted after the deletions', () => allSaved(follow, after.files));
  const progress = await readProgressFile(state); // the running follow's view (rewritten every 2 s): at least before
  t.ok(progress, 'the running follow keeps progress.json');

  follow.child.kill('SIGINT');
  const { code } = await follow.exited;
  t.equal(code, 130, 'SIGINT: 130 (a deleted channel is not an error)');
  t.notMatch(follow.stderr(), /error|DPS_/i, 'no error line for the deletions');
  for (const path of [...doomedFiles, ...threadPaths]) await t.resolves(access(resolve(dir, path)), `kept: ${path}`);
  const final = await readProgressFile(state);
  const channels = final?.servers[guildId]?.channels ?? {};
  t.notOk(channels[doomed]?.following, 'the deleted channel is not following');
  t.notOk(channels[thread]?.following, 'nor the deleted thread');

  const check = await checkArchive(fake, out, state, main);
  t.same(check.missing, [], 'every file of the main channel is archived');
  t.same(check.extraFiles, [], 'none stored twice');
  const saved = follow.events.filter((e) => e.event === 'saved').map((e) => String(e.attachment_id));
  t.equal(saved.length, new Set(saved).size, 'each file announced once');
  const downloads = fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).length;
  t.equal(downloads, saved.length, 'each file downloaded once');
  t.same(follow.problems(), [], 'every event matches the NDJSON schema');
  // Issue 25: the live thread's record keeps its parent's type (0, a text channel: a thread, not a forum post).
  const store = await openStore(state);
  const record = await store.getChannel(thread);
  await store.close();
  t.equal(record?.parent_type, 0, "the live thread's parent type is in the state");
});

t.test('with --channel-id, a running follow shows only its channels following, and a deleted one no longer', async (t) => {
  const scenario = buildScenario({
    seed: 26,
    guilds: [
      {
        name: 'Two',
        channels: [
          { name: 'kept', messages: 5, imageRatio: 0.5 },
          { name: 'gone', messages: 5, imageRatio: 0.5 },
        ],
      },
    ],
  });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const state = join(dir, 'state');
  const guildId = fake.scenario.guilds[0]!.id;
  const [kept, gone] = fake.scenario.guilds[0]!.channels.map((c) => c.id) as [string, string];
  const args = ['--server-id', guildId, '--channel-id', kept, '--channel-id', gone, '--out', join(dir, 'out'), '--state', state, '--types', 'all'];
  const follow = startFollow(t, fake, args);
  await follow.until('the catch-up', () => follow.events.filter((e) => e.event === 'channel_done').length >= 2);
  fake.deleteChannel(gone);
  await follow.until('the deletion is noticed', () => /#gone.*was deleted/.test(follow.stderr()));
  const noticed = Date.now();
  // progress.json is rewritten every 2 s: the first one written after the deletion was noticed.
  let report = await readProgressFile(state);
  while (report === undefined || Date.parse(report.updated_at) <= noticed) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    report = await readProgressFile(state);
  }
  const channels = report.servers[guildId]?.channels ?? {};
  t.equal(channels[kept]?.following, true, 'the kept channel is following');
  t.notOk(channels[gone]?.following, 'the deleted channel is not');
  follow.child.kill('SIGINT');
  t.equal((await follow.exited).code, 130);
});
