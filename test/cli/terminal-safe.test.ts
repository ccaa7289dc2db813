// Names chosen by other people (channels, servers, files) cannot drive the terminal: the CLI escapes every
// control and bidi character on stderr (lib/output/terminal-safe.ts), while stdout's NDJSON keeps the exact name.

import t from 'tap';
import { singleChannel } from '../../fixtures/scenarios.js';
import { regexChar, regexRange } from '../helpers/regex-escape.js';
import { fakeFor, firstTarget, runDps } from './helpers.js';

const CHANNEL = 'news\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\x9b31m\u202e';
const SERVER = 'srv\x1b]0;owned\x07';
const FILE = 'photo\x1b[2J\x1b]8;;https://evil.example/\x07x\x1b]8;;\x07\u202egnp.png';

t.test('hostile channel and file names: no raw ESC on stderr, the exact names on stdout', async (t) => {
  const scenario = singleChannel({
    seed: 13,
    name: CHANNEL,
    guildName: SERVER,
    messages: 12,
    imageRatio: 0,
    overrides: { 4: { attachments: [{ filename: FILE, contentType: 'image/png', size: 5_000, width: 10, height: 10 }] } },
  });
  const fake = await fakeFor(t, { scenario });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  // --max-size makes the file a `skipped` item with a warning line on stderr that names it.
  const run = await runDps(['--server-id', G, '--channel-id', C, '--out', `${dir}/out`, '--state', `${dir}/state`, '--max-size', '1KB'], {
    env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api },
  });
  t.equal(run.code, 0, `exit 0: ${run.stderr}`);
  t.match(run.stderr, 'news\\x1b[2J\\x1b]8;;https://evil.example/\\x07click', 'the channel name is shown, escaped');
  t.match(run.stderr, 'photo\\x1b[2J', 'the file name is shown, escaped');
  t.notMatch(
    run.stderr,
    new RegExp(String.raw`[${regexRange(0x00, 0x09)}${regexRange(0x0b, 0x1f)}${regexRange(0x7f, 0x9f)}\u202a-\u202e\u2066-\u2069]`),
    'no raw control or bidi character on stderr',
  );
  const skipped = run.lines.find((l) => l.event === 'skipped' && l.reason === 'too_large');
  t.equal(skipped?.filename, FILE, 'NDJSON keeps the exact file name');
  t.equal(run.lines.find((l) => l.event === 'channel_done')?.channel_name, CHANNEL, 'NDJSON keeps the exact channel name');
  t.match(run.stdout, '\\u001b[2J', 'JSON-escaped on stdout');
  t.notMatch(run.stdout, new RegExp(regexChar(0x1b)), 'no raw ESC on stdout either');
});
