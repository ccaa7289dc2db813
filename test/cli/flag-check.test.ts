// bin/flag-check.ts in-process: flags recorded from the builders, the suggestions, values as yargs reads them.

import t from 'tap';
import type { Argv } from 'yargs';
import { checkArgv, nearest, recordFlags, usageMessage } from '../../bin/flag-check.js';

const registry = recordFlags((y: Argv) =>
  y
    .command(['scrape', '$0'], 'archive', (c: Argv) =>
      c
        .option('server-id', { type: 'string' })
        .option('channel-id', { type: 'string', array: true })
        .option('threads', { type: 'boolean' })
        .option('n', { type: 'number' })
        .option('secret', { type: 'string', hidden: true })
        .option('dry-run', { type: 'boolean', alias: 'simulate' })
        .option('mode', { describe: 'untyped: a value or none' })
        .option('write-metadata', { type: 'string' })
        .alias('s', 'server-id')
        .config('config'),
    )
    .command('stats', 'count', (c: Argv) => c.options({ by: { choices: ['channel', 'month'] } }).option('state', { type: 'string' }))
    .option('quiet', { type: 'boolean' }),
);

t.test('the recorder sees every command and option', async (t) => {
  t.same([...registry.keys()].sort(), ['', '$0', 'scrape', 'stats']);
  t.same(
    [...registry.get('scrape')!.keys()],
    ['server-id', 'channel-id', 'threads', 'n', 'secret', 'dry-run', 'mode', 'write-metadata', 'config', 'simulate', 's'],
  );
  t.same([...registry.get('')!.keys()], ['help', 'version', 'quiet']);
});

t.test('problems, one line each, as typed', async (t) => {
  const cases: Array<[string[], string | undefined]> = [
    [['--server-id', '1', '--channel-id', '2', '3', '--threads', 'false', '--no-threads', '--n', '-1', '--quiet'], undefined],
    [['stats', '--by', 'month', '--state=s'], undefined],
    [['--chanel-id', '1'], 'unknown flag --chanel-id; did you mean --channel-id?'],
    [['--secrt', 'x'], 'unknown flag --secrt'], // hidden flags are accepted, never suggested
    [['--secret', 'x'], undefined],
    [['stats', '--server-id', '1'], 'unknown flag --server-id'],
    [['stat'], 'unknown command stat; did you mean stats?'],
    [['--server-id'], '--server-id needs a value'],
    [['--server-id', '--quiet'], '--server-id needs a value'],
    [['--server-id='], '--server-id needs a value, got ""'],
    [['--n', 'abc'], '--n must be a number, got "abc"'],
    [['--n', '-5MB'], '--n needs a value'], // yargs reads -5MB as short flags
    [['--n=-5MB'], '--n must be a number, got "-5MB"'],
    [['stats', '--by', 'week'], '--by must be channel or month, got "week"'],
    [['--threads', 'maybe'], 'unexpected argument "maybe"'],
    [['--quiet', 'stats', '--by', 'month'], undefined],
    [['--chanel-id', '1', '--help'], undefined], // help wins
    [['-q'], 'unknown flag -q'],
    [['--server-id', '1', '--', '--anything'], undefined],
    [['--simulate', '--dry-run', '--no-simulate'], undefined],
    [['--simulat'], 'unknown flag --simulat; did you mean --simulate?'],
    [['-s'], '-s needs a value'],
    [['--mode', '--write-metadata', '--mode=x', '--write-metadata=channel'], undefined],
    [['--config', 'dps.json'], undefined],
    [['--config'], '--config needs a value'],
    [['-s', '1'], undefined],
  ];
  for (const [argv, expected] of cases) t.equal(checkArgv(argv, registry), expected, argv.join(' '));
});

t.test('suggestions: small edit distances and prefixes only', async (t) => {
  const flags = ['channel-id', 'server-id', 'max-concurrency', 'max-channel-concurrency', 'by'];
  t.equal(nearest('chanel-id', flags), 'channel-id');
  t.equal(nearest('chnanel-id', flags), 'channel-id', 'a swap of neighbours');
  t.equal(nearest('max-concurency', flags), 'max-concurrency');
  t.equal(nearest('server', flags), 'server-id', 'a prefix');
  t.equal(nearest('bye', flags), 'by');
  t.equal(nearest('frobnicate', flags), undefined);
  t.equal(nearest('x', flags), undefined);
});

t.test("yargs' own messages, rewritten", async (t) => {
  t.equal(usageMessage('Unknown arguments: chanel-id, chanelId'), 'unknown flag or argument --chanel-id');
  t.equal(usageMessage('Missing required argument: server-id'), 'missing --server-id');
  t.equal(usageMessage('Invalid values:\n  Argument: by, Given: "week", Choices: "channel", "month"'), '--by must be channel or month, got "week"');
  t.equal(usageMessage('Not enough arguments following: state'), '--state needs a value');
});
