// Every command's --help describes every flag it lists, shows examples (the README's recipes), and marks the
// flags the command cannot run without as [required].

import t from 'tap';
import { runDps } from './helpers.js';

const COMMANDS = ['scrape', 'retry-failed', 'guilds', 'channels', 'manifest', 'status', 'stats', 'demo'];
const REQUIRED: Record<string, string[]> = { scrape: ['server-id'], 'retry-failed': ['server-id'], channels: ['server-id'] };

interface HelpFlag {
  name: string;
  description: string; // the text beside the name, without the [type] [default] tags
  tags: string;
}

// The flags of a --help text with their descriptions (a flag's block runs until the next flag or section).
function helpFlags(help: string): HelpFlag[] {
  const flags: HelpFlag[] = [];
  let current: { name: string; text: string } | undefined;
  const finish = (): void => {
    if (current === undefined) return;
    const tags = (current.text.match(/\[[^\]]*\]/g) ?? []).join(' ');
    flags.push({ name: current.name, description: current.text.replace(/\[[^\]]*\]/g, '').trim(), tags });
    current = undefined;
  };
  for (const line of help.split('\n')) {
    if (/^Examples:/.test(line)) break;
    const m = /^\s{1,8}(?:-\w, )?--([a-z][a-z0-9-]*)(.*)$/.exec(line);
    if (m) {
      finish();
      current = { name: m[1]!, text: m[2]! };
    } else if (current && /^\s{6,}\S/.test(line)) current.text += ` ${line.trim()}`;
    else finish();
  }
  finish();
  return flags;
}

t.test('every command: described flags, examples, required flags marked', { jobs: 2 }, async (t) => {
  for (const command of COMMANDS) {
    t.test(`dps ${command} --help`, async (t) => {
      const run = await runDps([command, '--help']);
      t.equal(run.code, 0, 'exit 0');
      t.equal(run.stderr, '', 'nothing on stderr');
      const flags = helpFlags(run.stdout);
      t.ok(flags.length >= 3, `${flags.length} flags listed`);
      const undescribed = flags.filter((f) => f.description === '').map((f) => `--${f.name}`);
      t.same(undescribed, [], 'every flag has a description');
      const examples = run.stdout.split(/^Examples:$/m)[1] ?? '';
      t.match(examples, /dps /, 'shows examples');
      for (const name of REQUIRED[command] ?? []) {
        const flag = flags.find((f) => f.name === name);
        t.match(flag?.tags ?? '', /\[required\]/, `--${name} is marked [required]`);
      }
      for (const flag of flags.filter((f) => !(REQUIRED[command] ?? []).includes(f.name))) {
        t.notMatch(flag.tags, /\[required\]/, `--${flag.name} is not marked required`);
      }
    });
  }
});

t.test('the examples include the README pipe recipes', async (t) => {
  const flat = (text: string): string => text.replace(/\s+/g, ' '); // examples wrap at the terminal's width
  const scrape = await runDps(['scrape', '--help']);
  t.match(flat(scrape.stdout), /dps channels --server-id 123 --threads \| jq -c 'select\(.readable\)' \| dps scrape/, 'channels piped into scrape');
  const manifest = await runDps(['manifest', '--help']);
  t.match(flat(manifest.stdout), /dps manifest --server-id 123 \| jq -r .sha256/, 'manifest piped into jq');
});
