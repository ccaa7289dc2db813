// Issue 20, item 16, attacked as an outside harness would: while a run writes into a channel folder, another
// process moves that folder away, puts a symlink to a foreign directory in its place and back, over and over
// (1 ms each step; without the moment away, a fresh folder made there by dps went unnoticed but by chance).
// Required: nothing written outside --out, and never a `saved` record whose path does not hold its bytes.
// Files are created and linked through the checked folder's descriptor (lib/fs/pinned-folder.ts), so no swap
// sends one elsewhere. What once left records without their files (a fresh-clone CI run): a run starting in
// the moment the folder was away, before the symlink, made a fresh folder in its place, the flipper could not
// put the real one back, and every file recorded in it was missing. A folder the state has files in is never
// created afresh now. test/fs/folder-swap-window.test.ts puts both windows in place deterministically.

import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { manifest } from '../../lib/index.js';
import { collect, listFiles, runCli, sha256File } from '../helpers/harness.js';

const FLIPPER = `
const fs = require('node:fs');
const [victim, moved, evil, stop] = process.argv.slice(1);
fs.mkdirSync(evil, { recursive: true });
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
while (!fs.existsSync(stop)) {
  try { fs.renameSync(victim, moved); sleep(1); fs.symlinkSync(evil, victim); } catch {}
  sleep(1);
  try { fs.unlinkSync(victim); fs.renameSync(moved, victim); } catch {}
  sleep(1);
}`;

t.test('a channel folder flipped to a foreign symlink and back during a run', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 3, messages: 300, gapRate: 0, imageRatio: 1, spacingMs: 60_000, sizes: [500, 20_000] }),
    cdnLatencyMs: 5,
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const dir = t.testdir();
  const options = { out: join(dir, 'out'), state: join(dir, 'state') };
  const args = [
    '--server-id',
    fake.scenario.guilds[0]!.id,
    '--channel-id',
    channel.id,
    '--api',
    fake.api,
    '--out',
    options.out,
    '--state',
    options.state,
    '--types',
    'all',
    '--concurrency',
    '32',
    '--quiet',
  ];
  const env = { DISCORD_TOKEN: fake.token };
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  for (let attempt = 0; attempt < 6; attempt++) {
    const running = runCli(args, { env, cwd: dir });
    let folder: string | undefined;
    for (let i = 0; i < 400 && folder === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const files = await listFiles(options.out);
      if (files.length > 0) folder = dirname(join(options.out, files[0]!));
    }
    if (folder === undefined) {
      await running;
      break;
    }
    const stop = join(dir, `stop${attempt}`);
    const flipper = spawn(process.execPath, ['-e', FLIPPER, folder, join(outside, 'moved'), join(outside, 'evil'), stop], { stdio: 'ignore' });
    const run = await running;
    writeFileSync(stop, '');
    await new Promise((r) => flipper.on('close', r));
    if (lstatSync(folder).isSymbolicLink()) {
      unlinkSync(folder);
      renameSync(join(outside, 'moved'), folder);
    }
    if (run.code === 0) break;
  }
  const final = await runCli(args, { env, cwd: dir });
  t.equal(final.code, 0, 'the run after the swaps completes');
  const escaped = existsSync(join(outside, 'evil')) ? readdirSync(join(outside, 'evil')) : [];
  t.same(escaped.slice(0, 5), [], `nothing written outside --out (${escaped.length} files were)`);
  const records = await collect(manifest(options.state));
  const broken: string[] = [];
  for (const r of records) {
    if (r.status !== 'saved' || r.path === undefined) continue;
    if (!existsSync(r.path) || (await sha256File(r.path)) !== r.sha256) broken.push(r.path);
  }
  t.same(broken.slice(0, 5), [], `every saved record's path holds its bytes (${broken.length} do not)`);
});
