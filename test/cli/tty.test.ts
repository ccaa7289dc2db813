// What a person sees (issue 23), end to end: the CLI in a REAL pseudo-terminal (util-linux `script`) of 60 and 200
// columns against a slowed fake Discord, its output replayed on a tiny terminal (test/helpers/terminal-screen.ts):
// no line reaches the terminal's width, the block is left once (no stacked copies), each channel's percentage
// only grows and ends at 100%; stdout on a terminal is human lines, piped it is the NDJSON contract; --max-size
// skips are one stderr line per channel; --progress-interval prints plain lines when stderr is not a terminal.

import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { buildScenario } from '../../fixtures/scenarios.js';
import type { Scenario } from '../../fixtures/model.js';
import { CLI, listFiles } from '../helpers/harness.js';
import { TerminalScreen } from '../helpers/terminal-screen.js';
import { fakeFor, firstTarget, ofEvent, runDps, schemaProblems } from './helpers.js';

const ESC = String.fromCharCode(0x1b);
const hasScript = spawnSync('script', ['--version']).status === 0;

// A server whose channel names are wide (CJK, emoji) and long, so the 60-column lines must be cut by cells.
function scenario(): Scenario {
  return buildScenario({
    seed: 23,
    guilds: [
      {
        name: 'Wide 🎨 Server',
        channels: [
          { name: 'general', messages: 120, imageRatio: 0.4 },
          { name: '日本語の写真チャンネル-とても長い名前です-アート', messages: 90, imageRatio: 0.4 },
          { name: '🎨🎨🎨-art-and-more-art-with-a-very-long-name-indeed-🖼️🖼️', messages: 80, imageRatio: 0.4 },
          { name: 'x', messages: 30, imageRatio: 0.5 },
        ],
      },
    ],
  });
}

// A slowed fake: 8 history requests per second per channel, so the run lasts a few seconds and many frames are drawn.
async function slowFake(t: Test) {
  return fakeFor(t, { scenario: scenario(), rateLimit: { perChannel: { limit: 8, windowMs: 1000 } }, cdnLatencyMs: 5 });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

// Runs `dps args` in a pseudo-terminal of columns x rows; resolves with everything the terminal received.
function inTerminal(columns: number, rows: number, args: string[], env: Record<string, string>, redirect = ''): Promise<{ code: number | null; raw: string }> {
  const command = `stty cols ${columns} rows ${rows}; exec ${quote(process.execPath)} ${quote(CLI)} ${args.map(quote).join(' ')}${redirect}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', SHELL: '/bin/sh', TERM: 'xterm', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let raw = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, raw }));
  });
}

// Every line the program drew, in order, split on line ends and on the cursor movements of the redraws.
function drawnLines(raw: string): string[] {
  return raw.split(new RegExp(`\r\n|\n|\r|${ESC}\\[[0-9;?]*[A-Za-z]`)).filter((line) => line !== '');
}

const CHANNEL_LINE = /^\s*(\d+)%\s{2}(?:ETA \S+(?: \S+)?|ETA \?|done|stopped)\s+(#.+)$/;
const HEADER = /^(\d+)% \d+\/\d+ channels/;

for (const columns of [60, 200]) {
  t.test(
    `the live display in a ${columns}-column terminal: fits, redraws in place, monotonic, 100% at the end`,
    { skip: !hasScript && 'no script(1)' },
    async (t) => {
      const fake = await slowFake(t);
      const dir = t.testdir();
      const out = join(dir, 'out');
      const guild = fake.scenario.guilds[0]!;
      const args = ['--server-id', guild.id, '--all-channels', '--api', fake.api, '--out', out, '--state', join(dir, 'state'), '--types', 'all'];
      const { code, raw } = await inTerminal(columns, 30, args, { DISCORD_TOKEN: fake.token });
      t.equal(code, 0, `exit 0; the end of what it drew: ${JSON.stringify(raw.slice(-600))}`);
      const expected = [...fake.expected()].length;
      t.equal((await listFiles(out)).length, expected, 'every file on disk');

      const screen = new TerminalScreen(columns, 30);
      screen.write(raw);
      t.same(screen.overflows, [], `no line reaches column ${columns}`);
      const seen = screen.lines();
      const headers = seen.filter((line) => HEADER.test(line));
      t.equal(headers.length, 1, `one block left on screen, not stacked copies:\n${seen.join('\n')}`);
      t.match(headers[0], /^100% 4\/4 channels/, 'the final block: 100%, every channel done');
      t.ok(
        seen.some((line) => line.includes(`${expected} files`)),
        'the final block shows the totals',
      );
      t.ok(
        seen.some((line) => /^saved {2}#general {2}20\d\d-\d\d-\d\d {2}\S/.test(line)),
        'stdout on the terminal: human lines',
      );
      t.notOk(
        seen.some((line) => line.startsWith('{"event"')),
        'no NDJSON on the terminal',
      );

      const drawn = drawnLines(raw);
      const frames = drawn.filter((line) => HEADER.test(line)).map((line) => Number(HEADER.exec(line)![1]));
      t.ok(frames.length >= 4, `several frames drawn (${frames.length})`);
      t.same(
        frames,
        [...frames].sort((a, b) => a - b),
        'the overall percentage never goes down',
      );
      const perChannel = new Map<string, number[]>();
      for (const line of drawn) {
        const match = CHANNEL_LINE.exec(line);
        if (!match) continue;
        const list = perChannel.get(match[2]!) ?? [];
        list.push(Number(match[1]));
        perChannel.set(match[2]!, list);
      }
      t.ok(perChannel.size >= 2, `channel lines were drawn: ${[...perChannel.keys()].join(', ')}`);
      for (const [name, percents] of perChannel) {
        t.same(
          percents,
          [...percents].sort((a, b) => a - b),
          `${name}: its percentage never goes down (${percents.join(' ')})`,
        );
        t.equal(percents[percents.length - 1], 100, `${name}: it ends at 100%`);
      }
      if (columns === 60)
        t.ok(
          [...perChannel.keys()].some((name) => name.endsWith('…')),
          'a long wide name is cut to the width',
        );
      else
        t.ok(
          [...perChannel.keys()].some((name) => name.includes('日本語の写真チャンネル-とても長い名前です-アート')),
          'names shown whole when they fit',
        );
    },
  );
}

t.test(
  'Ctrl-C while the block is drawn: its notice goes above the block, one block is left, files finish',
  { skip: !hasScript && 'no script(1)' },
  async (t) => {
    const fake = await fakeFor(t, { scenario: scenario(), cdnHoldAfter: 3 }); // downloads hang after the third: mid-run
    const guild = fake.scenario.guilds[0]!;
    const dir = t.testdir();
    const args = ['--server-id', guild.id, '--all-channels', '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
    const command = `stty cols 60 rows 30; exec ${quote(process.execPath)} ${quote(CLI)} ${args.map(quote).join(' ')}`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', SHELL: '/bin/sh', TERM: 'xterm', DISCORD_TOKEN: fake.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let raw = '';
    const frames = (): number => raw.split(/\d+% \d+\/4 channels/).length - 1;
    const drawn = new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        raw += chunk;
        if (frames() >= 3) resolve();
      });
    });
    const ended = new Promise<number | null>((resolve) => child.on('close', resolve));
    await drawn;
    const dps = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')[0]!;
    t.ok(/^\d+$/.test(dps), `the CLI under script(1): pid ${dps}`);
    process.kill(Number(dps), 'SIGINT');
    fake.releaseCdn(); // the files in flight finish
    t.equal(await ended, 130, 'exit 130');
    const screen = new TerminalScreen(60, 30);
    screen.write(raw);
    t.same(screen.overflows, [], 'no line reaches column 60');
    const seen = screen.lines();
    t.equal(seen.filter((line) => HEADER.test(line)).length, 1, `one block left, no copy above the notice:\n${seen.join('\n')}`);
    const notice = seen.findIndex((line) => line.startsWith('SIGINT: finishing in-flight files'));
    t.ok(notice >= 0 && notice < seen.findIndex((line) => HEADER.test(line)), 'the notice above the block');
  },
);

t.test(
  'stdout on a terminal gets human lines; --format ndjson there, or a pipe, keeps the NDJSON contract',
  { skip: !hasScript && 'no script(1)' },
  async (t) => {
    const fake = await fakeFor(t, { scenario: scenario() });
    const { G, C } = firstTarget(fake);
    const dir = t.testdir();
    const args = (name: string): string[] => [
      '--server-id',
      G,
      '--channel-id',
      C,
      '--api',
      fake.api,
      '--out',
      join(dir, name),
      '--state',
      join(dir, `${name}-state`),
      '--types',
      'all',
    ];
    const env = { DISCORD_TOKEN: fake.token };

    const human = await inTerminal(80, 24, args('human'), env, ' 2>/dev/null'); // stdout only on the terminal
    t.equal(human.code, 0);
    const lines = human.raw.split(/\r?\n/).filter(Boolean);
    const files = await listFiles(join(dir, 'human'));
    t.equal(lines.filter((line) => line.startsWith('saved  #general  ')).length, files.length, 'one human line per saved file');
    t.ok(
      lines.some((line) => /^summary: 1 channel, \d+ messages/.test(line)),
      'the summary as a short block',
    );
    t.notOk(
      lines.some((line) => line.startsWith('{')),
      'no JSON',
    );

    const forced = await inTerminal(80, 24, [...args('forced'), '--format', 'ndjson'], env, ' 2>/dev/null');
    const json = forced.raw.split(/\r?\n/).filter(Boolean);
    t.ok(
      json.length > 0 && json.every((line) => schemaProblems(JSON.parse(line) as Record<string, unknown>).length === 0),
      '--format ndjson on a terminal: NDJSON',
    );

    const piped = await runDps([...args('piped'), '--no-progress'], { env });
    t.equal(piped.code, 0);
    t.ok(piped.lines.length > 0 && piped.lines.every((line) => schemaProblems(line).length === 0), 'piped: every line is a valid event');
    t.equal(piped.lines.filter(ofEvent('saved')).length, (await listFiles(join(dir, 'piped'))).length);
    t.equal(piped.lines.at(-1)?.event, 'summary', 'the summary last');

    const humanPiped = await runDps([...args('human-piped'), '--no-progress', '--format', 'human'], { env });
    t.equal(humanPiped.code, 0);
    t.match(humanPiped.stdout, /^saved {2}#general {2}/m, '--format human through a pipe');

    const bad = await runDps([...args('bad'), '--format', 'yaml'], { env });
    t.equal(bad.code, 2, 'a bad --format is a usage error');
    t.match(bad.stderr, /--format must be human or ndjson, got "yaml"/);
  },
);

// --format ndjson with stdout and stderr on one terminal: each NDJSON line goes above the live block (as the human
// lines do), never after its last line, which left a copy of the block for every line written mid-frame.
t.test('--format ndjson on the terminal of the live block: every line above the block, one block left', { skip: !hasScript && 'no script(1)' }, async (t) => {
  const fake = await slowFake(t);
  const guild = fake.scenario.guilds[0]!;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const args = [
    '--server-id',
    guild.id,
    '--all-channels',
    '--api',
    fake.api,
    '--out',
    out,
    '--state',
    join(dir, 'state'),
    '--types',
    'all',
    '--format',
    'ndjson',
  ];
  const { code, raw } = await inTerminal(200, 30, args, { DISCORD_TOKEN: fake.token });
  t.equal(code, 0, 'exit 0');
  const chunks = raw.split('{"event"');
  const misplaced = chunks.slice(0, -1).filter((before) => !new RegExp(`(?:\\n|\\r|${ESC}\\[J)$`).test(before));
  t.same(
    misplaced.map((before) => before.slice(-80)),
    [],
    'every NDJSON line starts a line of its own, not after a line of the block',
  );
  const files = (await listFiles(out)).length;
  const events = raw
    .split(/\r?\n/)
    .map((line) => line.replace(new RegExp(`^[\\s\\S]*${ESC}\\[J`), '')) // after the block was cleared for it
    .flatMap((line) => (line.startsWith('{"event"') ? [JSON.parse(line) as Record<string, unknown>] : []));
  t.equal(events.filter(ofEvent('saved')).length, files, `one whole saved line per file (${events.length} events, ${files} files)`);
  const screen = new TerminalScreen(200, 30);
  screen.write(raw);
  const seen = screen.lines();
  t.equal(seen.filter((line) => HEADER.test(line)).length, 1, `one block left on screen:\n${seen.slice(-12).join('\n')}`);
});

t.test('--max-size skips: one stderr line per channel with the count; one NDJSON event per file', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const guild = fake.scenario.guilds[0]!;
  const dir = t.testdir();
  const run = await runDps(
    [
      '--server-id',
      guild.id,
      '--all-channels',
      '--api',
      fake.api,
      '--out',
      join(dir, 'out'),
      '--state',
      join(dir, 'state'),
      '--types',
      'all',
      '--max-size',
      '100KB',
      '--no-progress',
    ],
    { env: { DISCORD_TOKEN: fake.token } },
  );
  t.equal(run.code, 0);
  const tooLarge = run.lines.filter((line) => line.event === 'skipped' && line.reason === 'too_large');
  t.ok(tooLarge.length > 10, `many files over the limit (${tooLarge.length})`);
  t.notMatch(run.stderr, /warning: skipped \S+: /, 'no line per file');
  const byChannel = new Map<string, number>();
  for (const line of tooLarge) byChannel.set(String(line.channel_id), (byChannel.get(String(line.channel_id)) ?? 0) + 1);
  const rollups = run.stderr.split('\n').filter((line) => line.includes('larger than --max-size'));
  t.equal(rollups.length, byChannel.size, `one line per channel:\n${rollups.join('\n')}`);
  for (const [id, count] of byChannel) {
    const name = guild.channels.find((c) => c.id === id)!.name;
    t.ok(
      rollups.some((line) => line.startsWith(`warning: #${name}: skipped ${count} file`)),
      `#${name}: ${count} files`,
    );
  }
});

t.test('--progress-interval: plain progress lines when stderr is not a terminal; 0 never; bad values refused', async (t) => {
  const fake = await slowFake(t);
  const guild = fake.scenario.guilds[0]!;
  const dir = t.testdir();
  const args = (name: string): string[] => [
    '--server-id',
    guild.id,
    '--all-channels',
    '--api',
    fake.api,
    '--out',
    join(dir, name),
    '--state',
    join(dir, `${name}-state`),
  ];
  const env = { DISCORD_TOKEN: fake.token };
  const lines = await runDps([...args('lines'), '--progress-interval', '0.2'], { env });
  t.equal(lines.code, 0);
  const progress = lines.stderr.split('\n').filter((line) => line.startsWith('progress: '));
  t.ok(progress.length >= 2, `progress lines printed (${progress.length}):\n${progress.join('\n')}`);
  t.ok(
    progress.every((line) => /^progress: .*\d+ files? \| .*elapsed \d/.test(line)),
    'each says how many files and how long',
  );
  t.ok(
    progress.some((line) => /^progress: \d+% \d+\/4 channels/.test(line)),
    'and, once the channels are known, how far',
  );
  t.notOk(lines.stderr.includes(ESC), 'no escape sequences in a log');
  t.ok(
    lines.lines.every((line) => schemaProblems(line).length === 0),
    'stdout stays NDJSON',
  );

  const never = await runDps([...args('never'), '--progress-interval', '0'], { env });
  t.equal(never.code, 0);
  t.notMatch(never.stderr, /^progress: /m, '0: never');
  // Longer than a Node timer holds (2^31 - 1 ms, about 24.8 days): it was taken as 1 ms, a line every millisecond.
  const long = await runDps([...args('long'), '--progress-interval', '3000000'], { env });
  t.equal(long.code, 0);
  t.notMatch(long.stderr, /^progress: /m, 'an interval of 35 days: no line in a run of seconds');
  t.notMatch(long.stderr, /TimeoutOverflowWarning/, 'and no warning from Node');
  const off = await runDps([...args('off'), '--progress-interval', '0.2', '--no-progress'], { env });
  t.notMatch(off.stderr, /^progress: /m, '--no-progress: no lines either');

  const bad = await runDps([...args('bad'), '--progress-interval', 'soon'], { env });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--progress-interval must be a number of seconds \(0: never\), got "soon"/);
});
