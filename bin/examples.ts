// The examples each command's --help ends with: the README's recipes, so `dps <command> --help` shows how the
// commands are piped into each other. Kept apart from the flag definitions, which several people edit.

import type { Argv } from 'yargs';

// [command line, what it does] per command ('$0' is scrape as the default command).
export const EXAMPLES: Record<string, ReadonlyArray<readonly [string, string]>> = {
  scrape: [
    ['$0 --server-id 123 --channel-id 456', 'archive one channel (scrape is the default command)'],
    ['$0 scrape --server-id 123 --channel-id 456 --channel-id 789 --types all --max-size 25MB', 'two channels, every file type up to 25 MB'],
    ['$0 --server-id 123 --all-channels --embeds --stickers', 'the whole server, with embeds and stickers'],
    ['$0 --server-id 123 --channel-id 456 | jq -r \'select(.event=="saved") | .path\'', 'the path of every file saved'],
    [
      "$0 channels --server-id 123 --threads | jq -c 'select(.readable)' | $0 scrape --server-id 123 --channel-id -",
      'every readable channel and thread, ids from stdin',
    ],
    ['$0 --server-id 123 --all-channels --notify https://discord.com/api/webhooks/…', 'post the totals to a Discord channel when the run ends'],
  ],
  'retry-failed': [
    ['$0 retry-failed --server-id 123', 'retry every failed file of the server'],
    ['$0 retry-failed --server-id 123 --channel-id 456 --notify https://example.com/hook', 'one channel, the summary posted to a URL'],
  ],
  guilds: [['$0 guilds | jq -r \'.id + " " + .name\'', 'the id and name of every server']],
  channels: [
    ["$0 channels --server-id 123 --threads | jq -c 'select(.readable)'", 'the channels and threads the token can read'],
    ["$0 channels --server-id 123 | jq -c 'select(.readable | not) | {name, reason}'", 'why the others cannot be read'],
  ],
  manifest: [
    ['$0 manifest --server-id 123 | jq -r .sha256 | sort | uniq -d', 'files archived more than once (same bytes)'],
    ['$0 manifest --channel-id 456 | jq -r \'select(.status=="failed") | .filename\'', 'the files of a channel that failed'],
  ],
  status: [['$0 status --server-id 123', 'progress per channel, as JSON']],
  stats: [
    ['$0 stats', 'files and bytes per channel'],
    ['$0 stats --server-id 123 --by month', 'per month of posting'],
    ['$0 stats --by author --format ndjson | jq -r \'select(.by=="author") | [.name, .bytes] | @tsv\'', 'bytes per author, for a script'],
  ],
  demo: [['$0 demo && $0 stats', 'archive the demo server, then count what it holds']],
  // dps gallery, dps similar (issue 25)
  gallery: [
    ['$0 gallery && xdg-open data/downloads/gallery/index.html', 'build the gallery, then open it'],
    ['$0 gallery --server-id 123 --gallery-dir ~/www/archive', 'one server, the gallery elsewhere'],
  ],
  similar: [['$0 similar --distance 4 | jq -c \'select(.event=="similar") | [.files[].path]\'', 'the paths of each group of look-alikes']],
};

type CommandFn = (names: string | readonly string[], describe: string, builder: (y: Argv) => Argv, handler: (args: never) => unknown) => Argv;

// `y` with each command's builder followed by that command's examples (whatever flags the builder declares).
export function withExamples(y: Argv): Argv {
  const command = (y.command as unknown as CommandFn).bind(y);
  const wrapped: CommandFn = (names, describe, builder, handler) => {
    const name = (typeof names === 'string' ? names : (names[0] ?? '')).split(' ')[0]!;
    return command(names, describe, (inner) => addExamples(builder(inner), EXAMPLES[name] ?? []), handler);
  };
  return Object.assign(y, { command: wrapped });
}

function addExamples(y: Argv, examples: ReadonlyArray<readonly [string, string]>): Argv {
  // The description above its command line, both at full width (side by side, yargs wraps them into a jumble).
  return examples.reduce((acc, [line, what]) => acc.example(`# ${what}\n  ${line}`, ''), y);
}
