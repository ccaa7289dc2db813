// Changing filters between runs through the built CLI, with kill -9: a widened re-walk killed part-way and then
// resumed ends byte-exact, downloads nothing twice, and never announces again a file announced before the
// widening (only a file the killed run itself announced may be announced once more, as after any kill -9).

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { manifest } from '../../lib/index.js';
import { collect, spawnCli } from '../helpers/harness.js';
import { assertExact } from '../helpers/verify.js';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  saved: string[];
  warnings: string[];
  stderr: string;
}

// Runs the CLI; with `killAfter`, SIGKILLs it right after that many saved events. A line cut by the kill is dropped.
function run(args: string[], env: Record<string, string>, cwd: string, killAfter?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, { env, cwd });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (killAfter !== undefined && stdout.split('"event":"saved"').length - 1 >= killAfter) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const lines = stdout.split('\n').flatMap((line) => {
        try {
          return [JSON.parse(line) as { event: string; attachment_id?: string; code?: string }];
        } catch {
          return [];
        }
      });
      const saved = lines.filter((l) => l.event === 'saved').map((l) => l.attachment_id!);
      const warnings = lines.filter((l) => l.event === 'warning').map((l) => l.code!);
      resolve({ code, signal, saved, warnings, stderr });
    });
  });
}

t.test('a widened re-walk killed with SIGKILL resumes: nothing lost, nothing downloaded twice', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 51, messages: 400, imageRatio: 0.5, sizes: [200, 3_000] }), cdnLatencyMs: 5 });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const state = join(dir, 'state');
  const out = join(dir, 'out');
  const args = [
    '--server-id',
    guild.id,
    '--channel-id',
    channel.id,
    '--api',
    fake.api,
    '--out',
    out,
    '--state',
    state,
    '--types',
    'all',
    '--concurrency',
    '2',
    '--no-progress',
  ];
  const env = { DISCORD_TOKEN: fake.token };
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const large = expected.filter((a) => a.size > 1000);

  const first = await run([...args, '--max-size', '1KB'], env, dir);
  t.equal(first.code, 0, first.code === 0 ? 'the filtered run completes' : first.stderr);
  t.ok(large.length > 40, `${large.length} files skipped by --max-size`);

  const killed = await run(args, env, dir, Math.floor(large.length / 3));
  t.equal(killed.signal, 'SIGKILL', 'the widened run was killed mid-way');
  t.ok(killed.warnings.includes('filter_widened'), 'it announced the re-walk');
  const archivedBefore = new Set((await collect(manifest(state))).filter((r) => r.status === 'saved').map((r) => r.attachment_id));

  fake.resetLog();
  const resumed = await run(args, env, dir);
  t.equal(resumed.code, 0, resumed.code === 0 ? 'the resume completes' : resumed.stderr);
  t.notOk(resumed.warnings.includes('filter_widened'), 'the resume continues the re-walk');
  const downloaded = fake.requests.filter((r) => r.kind === 'cdn').map((r) => r.path.split('/')[3] ?? '');
  t.same(
    downloaded.filter((id) => archivedBefore.has(id)),
    [],
    'nothing archived before the resume is downloaded again',
  );
  const announcedFirst = new Set(first.saved);
  t.same(
    resumed.saved.filter((id) => announcedFirst.has(id)),
    [],
    'nothing announced before the widening is announced again',
  );
  t.same(
    killed.saved.filter((id) => announcedFirst.has(id)),
    [],
    'not even by the killed run',
  );
  const all = new Set([...first.saved, ...killed.saved, ...resumed.saved]);
  t.same([...all].sort(), expected.map((a) => a.attachment_id).sort(), 'together the runs announced every file');
  await assertExact(t, fake, out, state, channel.id);
});
