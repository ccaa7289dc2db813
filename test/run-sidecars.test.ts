// --write-metadata's sidecars are linked without an fsync each and made durable together (lib/run-sidecars.ts).
// Attacks: a run killed with kill -9 leaves its window open in the state (same boot: the next run only syncs);
// a machine crash is a window left by another boot, with sidecars as a power loss leaves them (empty, zeros, cut
// short, another sidecar's text): the next run, with or without --write-metadata, writes each one again, byte for
// byte as it was, and leaves a user's file at a sidecar's name alone; where `sync -f` fails, no window is opened
// (each sidecar fsynced as before), and a syncfs that fails at the end leaves the window for the next run; a long
// run syncs each minute and moves its window on (an injected clock).

import t from 'tap';
import type { Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildScenario } from '../fixtures/scenarios.js';
import { DiskThread } from '../lib/fs/disk-thread.js';
import { bootId } from '../lib/fs/syncfs.js';
import { SidecarSync } from '../lib/run-sidecars.js';
import { openStore } from '../lib/store/open.js';
import { channelRun, ofEvent, runDps, startCli } from './cli/helpers.js';

const scenario = () =>
  buildScenario({
    seed: 71,
    guilds: [
      {
        name: 'Crash',
        channels: [
          {
            name: 'general',
            messages: 120,
            imageRatio: 0.6,
            gapRate: 0,
            special: ['rich', 'duplicates', 'hostile'],
            threads: [{ name: 'a thread', messages: 8, imageRatio: 1, gapRate: 0 }],
          },
        ],
      },
    ],
  });

// coreutils' sync, wherever PATH has it.
function realSync(): string {
  const found = (process.env.PATH ?? '')
    .split(':')
    .map((d) => join(d, 'sync'))
    .find((p) => existsSync(p));
  if (found === undefined) throw new Error('no sync in PATH');
  return found;
}

async function windowOf(state: string): Promise<{ since: string; out: string; boot?: string | undefined } | undefined> {
  const store = await openStore(state);
  try {
    return await store.sidecarWindow();
  } finally {
    await store.close();
  }
}

async function setWindow(state: string, window: { since: string; out: string; boot?: string } | undefined): Promise<void> {
  const store = await openStore(state);
  try {
    await store.setSidecarWindow(window);
  } finally {
    await store.close();
  }
}

// Every sidecar of the archive (path -> text, '' with `names`), from the saved records.
async function sidecarsOf(state: string, names = false): Promise<Map<string, string>> {
  const store = await openStore(state);
  const texts = new Map<string, string>();
  try {
    for await (const record of store.attachments()) {
      if (record.status !== 'saved' || record.path === undefined) continue;
      if (record.duplicate_of !== undefined && record.duplicate_of === record.path) continue;
      texts.set(`${record.path}.json`, names ? '' : readFileSync(`${record.path}.json`, 'utf8'));
    }
  } finally {
    await store.close();
  }
  return texts;
}

async function setup(t: Test) {
  const run = await channelRun(t, { scenario: scenario(), cdnLatencyMs: 5 });
  return { ...run, args: [...run.args, '--types', 'all', '--no-progress'] };
}

t.test('a clean run closes its window; kill -9 leaves it open with this boot, and the next run closes it', async (t) => {
  const { out, state, env, args } = await setup(t);
  const killed = startCli([...args, '--write-metadata'], { env });
  await killed.waitFor(10, ofEvent('saved')).then(
    () => killed.child.kill('SIGKILL'),
    () => undefined,
  );
  const first = await killed.done;
  t.equal(first.signal, 'SIGKILL', 'killed mid-run');
  const left = await windowOf(state);
  t.ok(left !== undefined, 'the killed run left its window open in the state');
  t.equal(left?.out, out);
  t.equal(left?.boot, bootId(), 'with this boot id');
  t.ok(Date.parse(left!.since) <= Date.now() - 30 * 60_000, 'starting well before the run (a margin for clock changes)');

  const second = await runDps([...args, '--write-metadata'], { env });
  t.equal(second.code, 0, second.stderr);
  t.notMatch(second.stderr, /checking the sidecars/, 'same boot: nothing to check, one syncfs');
  t.equal(await windowOf(state), undefined, 'the window is closed at the end');
  const sidecars = await sidecarsOf(state);
  t.ok(sidecars.size >= 40, `${sidecars.size} sidecars`);
  for (const [path, text] of sidecars) {
    const json = JSON.parse(text) as { path?: string };
    if (`${json.path}.json` !== path) t.fail(`${path} is not whole`);
  }

  // A run without --write-metadata opens no window.
  const third = await runDps(args, { env });
  t.equal(third.code, 0, third.stderr);
  t.equal(await windowOf(state), undefined, 'no window without --write-metadata');
});

t.test('after a machine crash: broken sidecars of the window are written again, a user file is left alone', async (t) => {
  const { dir, out, state, env, args } = await setup(t);
  // A first archive only to learn the names (paths are deterministic); then a user's own file at one sidecar's
  // name, before the window starts: dps must never replace it (it is not its sidecar).
  const probeState = join(dir, 'probe-state');
  const probe = await runDps([...args.slice(0, -5), '--state', probeState, '--types', 'all', '--no-progress'], { env });
  t.equal(probe.code, 0, probe.stderr);
  const names = [...(await sidecarsOf(probeState, true)).keys()];
  rmSync(out, { recursive: true, force: true });
  rmSync(probeState, { recursive: true, force: true });
  const userFile = names[3]!;
  mkdirSync(join(userFile, '..'), { recursive: true });
  writeFileSync(userFile, 'my own notes, not JSON');
  const since = new Date(Math.floor(statSync(userFile).ctimeMs) + 1).toISOString(); // the window starts after it
  const run = await runDps([...args, '--write-metadata'], { env });
  t.equal(run.code, 0, run.stderr);
  t.equal(readFileSync(userFile, 'utf8'), 'my own notes, not JSON', 'the run left the user file alone');
  const truth = await sidecarsOf(state);
  t.equal(truth.get(userFile), 'my own notes, not JSON');
  const ours = [...truth.keys()].filter((p) => p !== userFile);
  t.ok(
    ours.some((p) => p.includes('threads')),
    'thread files among them',
  );
  t.ok(ours.length >= 40, `${ours.length} sidecars`);

  // The crash: the run's window left open by another boot; sidecars as a power loss may leave them.
  await setWindow(state, { since, out, boot: 'an-earlier-boot' });
  const damaged = new Map<string, string>();
  const empty = ours[0]!;
  truncateSync(empty, 0);
  damaged.set(empty, 'empty');
  const zeros = ours[1]!;
  writeFileSync(zeros, Buffer.alloc(truth.get(zeros)!.length));
  damaged.set(zeros, 'zeros');
  const cut = ours[2]!;
  writeFileSync(cut, truth.get(cut)!.slice(0, 100));
  damaged.set(cut, 'cut short');
  const stale = ours[4]!;
  writeFileSync(stale, truth.get(ours[5]!)!);
  damaged.set(stale, "another sidecar's text");
  // Every other one but two, empty: each is rebuilt from its record, whatever it holds (threads, forwards,
  // duplicates, spoilers, rich messages), byte for byte.
  for (const path of ours.slice(7)) {
    truncateSync(path, 0);
    damaged.set(path, 'empty');
  }

  // The next run, without --write-metadata: the repair does not depend on this run's flags.
  const next = await runDps(args, { env });
  t.equal(next.code, 0, next.stderr);
  t.match(next.stderr, /did not end and the machine restarted since: checking the sidecars it wrote/);
  t.match(next.stderr, new RegExp(`sidecar\\(s\\) checked, ${damaged.size} written again`));
  for (const [path, how] of damaged) t.equal(readFileSync(path, 'utf8'), truth.get(path), `${how}: written again, byte for byte (${path})`);
  for (const path of ours) if (!damaged.has(path)) t.equal(readFileSync(path, 'utf8'), truth.get(path), `${path} untouched`);
  t.equal(readFileSync(userFile, 'utf8'), 'my own notes, not JSON', 'the user file is still left alone');
  t.equal(await windowOf(state), undefined, 'the window is closed');

  // Nothing left to repair: a later run checks nothing.
  const later = await runDps(args, { env });
  t.equal(later.code, 0, later.stderr);
  t.notMatch(later.stderr, /checking the sidecars/);
});

t.test('where syncfs fails, no window is opened; a syncfs failing at the end leaves the window for the next run', async (t) => {
  const { dir, state, env, args } = await setup(t);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // A `sync` that always fails: sidecars are fsynced one by one, as before, and no window is opened.
  writeFileSync(join(bin, 'sync'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(bin, 'sync'), 0o755);
  const failing = { ...env, PATH: `${bin}:${process.env.PATH}` };
  const killed = startCli([...args, '--write-metadata'], { env: failing });
  await killed.waitFor(5, ofEvent('saved')).then(
    () => killed.child.kill('SIGKILL'),
    () => undefined,
  );
  await killed.done;
  t.equal(await windowOf(state), undefined, 'no syncfs: no window (each sidecar fsynced)');
  const full = await runDps([...args, '--write-metadata'], { env: failing });
  t.equal(full.code, 0, full.stderr);
  t.equal(await windowOf(state), undefined);

  // A `sync` that works once (the start's probe) and then fails: the window stays open, with a warning.
  const count = join(dir, 'count');
  writeFileSync(
    join(bin, 'sync'),
    `#!/bin/sh\nn=$(cat ${count} 2>/dev/null || echo 0)\necho $((n + 1)) > ${count}\n[ "$n" = 0 ] && exec ${realSync()} "$@"\nexit 1\n`,
  );
  const once = await runDps([...args, '--write-metadata', '--from-start'], { env: failing });
  t.equal(once.code, 0, once.stderr);
  t.match(once.stderr, /cannot make this run's sidecars durable yet \(syncfs failed\): the next run checks them/);
  t.ok((await windowOf(state)) !== undefined, 'the window stays open');
  const after = await runDps(args, { env });
  t.equal(after.code, 0, after.stderr);
  t.equal(await windowOf(state), undefined, 'the next run (same boot) syncs and closes it');
});

// A long run (dps follow) makes its sidecars durable every minute and moves the window on, so a crash costs a
// repair of the last minute's sidecars only; the run's clock is injected.
t.test('a long run syncs its sidecars each minute and moves the window on; close() closes it', async (t) => {
  const dir = t.testdir({ out: {} });
  const store = await openStore(join(dir, 'state'));
  t.teardown(() => store.close());
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  let now = Date.parse('2026-12-07T10:00:00Z');
  const out = join(dir, 'out');
  const sync = await SidecarSync.start({ store, disk, out, defer: true, now: () => now, boot: 'this-boot' });
  t.same(await store.sidecarWindow(), { since: '2026-12-07T09:00:00.000Z', out, boot: 'this-boot' }, 'opened an hour before the start');
  t.ok(sync.device() !== undefined, 'sidecars in --out go without their own fsync');
  now += 59_000;
  t.equal(sync.linked(), undefined, 'within the minute: no syncfs');
  now += 2_000;
  await sync.linked();
  t.same(await store.sidecarWindow(), { since: '2026-12-07T09:01:01.000Z', out, boot: 'this-boot' }, 'a minute on: synced, the window moved');
  now += 10_000;
  t.equal(sync.linked(), undefined, 'the next one waits for the next minute');
  await sync.close();
  t.equal(await store.sidecarWindow(), undefined, 'closed at the end');
  t.equal(sync.device(), undefined, 'no deferral after close');

  // Without --write-metadata (defer false) nothing is opened, and a window left by the same boot is closed.
  await store.setSidecarWindow({ since: '2026-12-07T09:00:00.000Z', out, boot: 'this-boot' });
  const plain = await SidecarSync.start({ store, disk, out, defer: false, now: () => now, boot: 'this-boot' });
  t.equal(await store.sidecarWindow(), undefined, 'the same boot: one syncfs closed the window left open');
  t.equal(plain.device(), undefined);
  t.equal(plain.repairSince, undefined, 'nothing to repair');
});
