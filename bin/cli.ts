// The `dps` command line: parse flags with yargs, build library options, call the library, set the exit
// code. Nothing here archives anything itself; every error becomes one line on stderr and an exit code.

import yargs from 'yargs';
import type { Argv } from 'yargs';
import {
  AbortedError,
  archive,
  channels,
  checkApiUrl,
  DEFAULTS,
  estimateNote,
  ExitCode,
  follow,
  guilds,
  isDiscordApiHost,
  isDpsError,
  isSnowflake,
  manifest,
  namePlaceholders,
  oneLine,
  packageVersion,
  parseDuration,
  redact,
  stats,
  STATS_BY,
  statsTable,
  status,
  terminalSafe,
  UsageError,
  wrapLines,
} from '../lib/index.js';
import type { ArchiveIO, ArchiveOptions, ConnectionOptions, FollowOptions, StatsBy } from '../lib/index.js';
import { readChannelIds } from './stdin-ids.js';
import { checkArgv, recordFlags, usageMessage } from './flag-check.js';
import { withExamples } from './examples.js';
import { tuneHeapGrowth } from './heap-tuning.js';
import { relaxHeapGrowth } from './heap-tuning.js'; // dps gallery (issue 25)
// dps gallery, dps similar (issue 25)
import { gallery, similar } from '../lib/index.js';
// dps manifest --format (issue 23, metadata)
import { isManifestFormat, MANIFEST_FORMATS, manifestFormatter } from '../lib/index.js';
import { configValue, withConfigFile } from './config.js'; // the config file (issue 23)

const secrets: string[] = [];

// How bin/dps.js started V8: with its heap policy (which the run may then adapt), or with the user's flags.
export interface MainOptions {
  tuneHeap?: boolean;
}

let tuneHeap = false;

// Runs the CLI with the given arguments (process.argv.slice(2)).
export async function main(argv: string[], options: MainOptions = {}): Promise<void> {
  tuneHeap = options.tuneHeap ?? false;
  const controller = new AbortController();
  wireSignals(controller);
  try {
    // Unknown commands and flags, missing values, choices and numbers: refused on the text as typed (flag-check.ts).
    const flags = recordFlags((y) => buildParser([], controller, y));
    flags.get('')?.set('config', { type: 'string' }); // added by withConfigFile below, on every command
    const problem = checkArgv(argv, flags);
    if (problem !== undefined) throw new UsageError(`${problem} (see dps --help)`);
    await withConfigFile(buildParser(stdinDash(argv), controller)).parseAsync(); // --config / ./dps.config.json
  } catch (error) {
    report(error);
  }
}

// yargs reads a lone `-` as a positional argument; `--channel-id -` means "read ids from stdin".
function stdinDash(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--channel-id' && argv[i + 1] === '-') {
      out.push('--channel-id=-');
      i++;
    } else out.push(argv[i]!);
  }
  return out;
}

// The whole command line; `y` is yargs over `argv`, or a stand-in that records the flags (flag-check.ts).
function buildParser(argv: string[], controller: AbortController, y: Argv = withExamples(yargs(argv))): Argv {
  return y
    .scriptName('dps')
    .usage('$0 [command] [options]\n\nArchive every photo (or every file) posted in Discord channels.')
    .command(['scrape', '$0'], 'archive channels of a server (the default command)', scrapeFlags, (args) => scrape(args, controller))
    .command('guilds', 'list the servers the token can see, as NDJSON', connectionFlags, (args) => printGuilds(args, controller))
    .command(
      'channels',
      'list the channels of a server as NDJSON, with whether the token can read each and why not',
      (y) =>
        connectionFlags(y)
          .option('server-id', { type: 'string', describe: 'the server id', demandOption: true })
          .option('threads', { type: 'boolean', default: false, describe: 'also list threads and forum posts' }),
      (args) => printChannels(args, controller),
    )
    .command(
      'follow',
      'archive channels, then keep archiving every file posted, live (the Gateway; polling for user tokens), until stopped',
      followFlags,
      (args) => scrape({ ...args, follow: true }, controller),
    )
    .command('retry-failed', 'retry only the files that failed in earlier runs (links are refreshed first)', retryFailedFlags, (args) =>
      scrape({ ...args, 'retry-only': true }, controller),
    )
    .command(
      'manifest',
      'print every archived attachment from the state as NDJSON',
      (y) => manifestFlags(stateFlags(y).options(filterFlags)),
      (args) => printManifest(args, controller),
    )
    .command(
      'status',
      "print progress per server and channel (the plan's progress.json) as JSON",
      (y) => stateFlags(y).option('server-id', { type: 'string', describe: 'only this server' }),
      (args) => printStatus(args, controller),
    )
    .command(
      'stats',
      'count the files and bytes the state holds per channel, author, month or file type (read-only)',
      (y) =>
        stateFlags(y)
          .options(filterFlags)
          .option('by', { choices: STATS_BY, default: 'channel' as const, describe: 'group by channel, author, month (of the post) or type (content type)' })
          .option('format', { choices: ['table', 'ndjson'] as const, describe: 'an aligned table (default on a terminal) or NDJSON (default when piped)' }),
      (args) => printStats(args, controller),
    )
    .command(
      'gallery',
      'build or update a browsable offline gallery (open its index.html) of what the state holds: thumbnails, a page per channel',
      (y) => galleryS3Flags(galleryFlags(stateFlags(y))),
      (args) => runGalleryCommand(args, controller),
    )
    .command(
      'similar',
      'print groups of archived images that look alike (perceptual hashes within --distance bits) as NDJSON',
      (y) =>
        selectionFlags(stateFlags(y)).option('distance', {
          type: 'string',
          default: '6',
          describe: "the most bits (of 64) two images' hashes may differ by to be grouped: 0 (same picture) to 64",
        }),
      (args) => runSimilarCommand(args, controller),
    )
    .command(
      'demo',
      'archive a demo server from the bundled fake Discord into ./data (offline)',
      (y) =>
        y
          .option('out', { type: 'string', default: DEFAULTS.out, describe: 'download folder' })
          .option('state', { type: 'string', default: DEFAULTS.state, describe: 'state folder (LevelDB)' }),
      // The fake Discord is loaded only for the demo (every command loads only what it uses: bench/limits.md).
      async (args) => {
        const { runDemo } = await import('./demo.js');
        setExit(await runDemo({ out: String(args.out), state: String(args.state), signal: controller.signal }));
      },
    )
    .option('quiet', { type: 'boolean', default: false, describe: 'print nothing on stderr except errors' })
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      if (error) throw error;
      throw new UsageError(`${usageMessage(message)} (see dps --help)`);
    });
}

function connectionFlags(y: Argv): Argv {
  return y
    .option('token', { type: 'string', describe: 'bot token (prefer DISCORD_TOKEN or .env: a flag ends up in shell history)', group: 'Auth:' })
    .option('token-type', { choices: ['bot', 'user'] as const, default: DEFAULTS.tokenType, describe: "user tokens break Discord's terms", group: 'Auth:' })
    .option('api', { type: 'string', describe: `API base URL (env DISCORD_API_URL) [default: ${DEFAULTS.api}]`, group: 'Auth:' })
    .option('allow-insecure-api', {
      type: 'boolean',
      default: false,
      describe: 'allow a plain-http --api / DISCORD_API_URL that is not this machine (the token travels in clear)',
      group: 'Auth:',
    })
    .option('polite', { type: 'boolean', default: false, describe: 'pace requests well below the rate limits', group: 'Speed:' })
    .option('backoff', { type: 'string', hidden: true, describe: 'first wait before retrying a failed request, doubled each retry [500ms] (for tests)' });
}

function scrapeFlags(y: Argv): Argv {
  return reportFlags(dryRunFlags(connectionFlags(objectStorageFlags(y)))) // objectStorageFlags: issue 26
    .option('server-id', { type: 'string', demandOption: true, describe: 'the server (guild) id', group: 'Target:' })
    .option('channel-id', {
      type: 'string',
      array: true,
      describe: 'a channel or thread id; repeat for several; "-" reads ids (or NDJSON with "id") from stdin',
      group: 'Target:',
    })
    .option('all-channels', { type: 'boolean', default: false, describe: 'every readable channel of the server', group: 'Target:' })
    .option('exclude-channel', { type: 'string', array: true, describe: 'a channel id to leave out (repeatable)', group: 'Target:' })
    .option('threads', { type: 'boolean', default: DEFAULTS.threads, describe: 'include threads and forum posts (--no-threads to skip)', group: 'Target:' })
    .option('include-nsfw', {
      type: 'boolean',
      default: false,
      describe: 'include age-restricted channels (--exclude-nsfw is the default)',
      group: 'Target:',
    })
    .option('exclude-nsfw', { type: 'boolean', describe: 'skip age-restricted channels (default)', group: 'Target:' })
    .option('out', { type: 'string', default: DEFAULTS.out, describe: 'download folder', group: 'Output:' })
    .option('state', { type: 'string', default: DEFAULTS.state, describe: 'state folder (LevelDB)', group: 'Output:' })
    .option('types', { type: 'string', default: DEFAULTS.types, describe: 'file types to keep (extensions or image/*), or "all"', group: 'Filter:' })
    .option('max-size', { type: 'string', describe: 'skip larger files, e.g. 25MB, 800KiB', group: 'Filter:' })
    .option('after', { type: 'string', describe: 'only messages after this ISO date or message id', group: 'Filter:' })
    .option('before', { type: 'string', describe: 'only messages before this ISO date or message id', group: 'Filter:' })
    .option('embeds', { type: 'boolean', default: false, describe: 'also save embed images and videos', group: 'Filter:' })
    .option('stickers', { type: 'boolean', default: false, describe: 'also save stickers', group: 'Filter:' })
    .option('author', { type: 'string', array: true, describe: 'only files posted by this user id (repeatable)', group: 'Filter:' })
    .option('exclude-author', { type: 'string', array: true, describe: 'never files posted by this user id (repeatable)', group: 'Filter:' })
    .option('exclude-bots', { type: 'boolean', default: false, describe: 'never files posted by bots or webhooks', group: 'Filter:' })
    .option('min-size', { type: 'string', describe: 'skip smaller files, e.g. 100KB, 1MiB', group: 'Filter:' })
    .option('min-width', { type: 'string', describe: 'skip images narrower than N pixels (files without dimensions pass)', group: 'Filter:' })
    .option('min-height', { type: 'string', describe: 'skip images lower than N pixels (files without dimensions pass)', group: 'Filter:' })
    .option('spoilers', { type: 'string', default: 'include', describe: 'spoiler-marked files: include, exclude, or only', group: 'Filter:' })
    .option('name-pattern', {
      type: 'string',
      default: DEFAULTS.namePattern,
      describe: `file name; placeholders: ${Object.keys(namePlaceholders)
        .map((k) => `{${k}}`)
        .join(' ')}`,
      group: 'Output:',
    })
    .option('concurrency', {
      type: 'string',
      default: DEFAULTS.concurrency,
      describe: 'parallel downloads: auto (start at 8, grow while throughput rises, halve on CDN 429/503/resets) or a fixed number',
      group: 'Speed:',
    })
    .option('max-concurrency', { type: 'string', default: DEFAULTS.maxConcurrency, describe: 'the most parallel downloads auto may reach', group: 'Speed:' })
    .option('channel-concurrency', {
      type: 'string',
      default: DEFAULTS.channelConcurrency,
      describe: 'channels archived at once: auto (largest first, more while the API rate has headroom under the global limit) or a fixed number',
      group: 'Speed:',
    })
    .option('max-channel-concurrency', {
      type: 'string',
      default: DEFAULTS.maxChannelConcurrency,
      describe: 'the most channels auto may archive at once',
      group: 'Speed:',
    })
    .option('global-rate-limit', {
      type: 'string',
      default: DEFAULTS.globalRateLimit,
      describe: "API requests per second across the bot (Discord's global limit is 50; raise only for an API that allows more)",
      group: 'Speed:',
    })
    .option('max-wait', {
      type: 'string',
      default: DEFAULTS.maxWait,
      describe: 'stop (exit 1, progress saved) rather than wait longer than this for a rate limit: 90s, 15m, 1h or ms',
      group: 'Speed:',
    })
    .option('timeout', {
      type: 'string',
      default: DEFAULTS.timeout,
      describe: 'a download that sends no headers or no data for this long is retried: 30s, 2m or ms',
      group: 'Speed:',
    })
    .option('notice-wait', { type: 'string', hidden: true, describe: `announce rate-limit waits longer than this [${DEFAULTS.noticeWait}] (for tests)` })
    .option('stall-grace', { type: 'string', hidden: true, describe: `when stopping, cancel transfers idle this long [${DEFAULTS.stallGrace}] (for tests)` })
    .option('resume', {
      type: 'boolean',
      default: true,
      describe: 'continue from the saved cursor (the default); --no-resume is --from-start',
      group: 'State:',
    })
    .option('from-start', {
      type: 'boolean',
      default: false,
      describe: 'ignore the cursor and walk the whole history (archived files are not downloaded again)',
      group: 'State:',
    })
    .option('progress', { type: 'boolean', describe: 'progress line on stderr (default: when stderr is a terminal)', group: 'Output:' })
    .option('mtime', {
      type: 'boolean',
      default: true,
      describe: "set each file's modified and access times to its message's post time (UTC); --no-mtime keeps the download time",
      group: 'Output:',
    })
    .option('write-metadata', {
      type: 'string',
      describe:
        "write what each file's message says: a <file>.json sidecar per file (no value, or =file), or one messages.ndjson per channel folder (=channel)",
      group: 'Output:',
    })
    .option('format', {
      type: 'string',
      describe: 'stdout: "human" (a line per saved file and per problem) or "ndjson" (default: human on a terminal, ndjson otherwise)',
      group: 'Output:',
    })
    .option('progress-interval', {
      type: 'string',
      default: '60',
      describe: 'when stderr is not a terminal (cron, systemd): print a progress line every SECONDS (0: never)',
      group: 'Output:',
    })
    .option('gallery', { type: 'boolean', default: false, describe: 'update the gallery (dps gallery) once the run ends', group: 'Output:' })
    .option('gallery-dir', { type: 'string', describe: 'with --gallery: the gallery folder [default: <out>/gallery]', group: 'Output:' })
    .option('path-pattern', {
      type: 'string',
      describe:
        'folders under --out, separated by / (default: <Server>_<id>/<Channel>_<id>[/threads/<Thread>_<id>]); the --name-pattern placeholders, e.g. {guild}/{parent}/{channel}/{year}-{month}; in a thread {channel} is the thread and {parent} its channel; {parent} and {thread} are empty outside threads, and a folder whose placeholders are all empty is left out',
      group: 'Output:',
    });
}

// dps gallery (issue 25): which files, and where the gallery goes.
function selectionFlags(y: Argv): Argv {
  return y
    .option('server-id', { type: 'string', describe: 'only this server' })
    .option('channel-id', { type: 'string', array: true, describe: 'only this channel or thread (repeatable)' });
}

function galleryFlags(y: Argv): Argv {
  return selectionFlags(y)
    .option('out', { type: 'string', default: DEFAULTS.out, describe: 'the download folder (the gallery goes in <out>/gallery)' })
    .option('gallery-dir', { type: 'string', describe: 'the gallery folder [default: <out>/gallery]' });
}

async function runGalleryCommand(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  if (tuneHeap) relaxHeapGrowth(); // issue 25 (performance): thumbnails' pixels are memory outside the heap
  const summary = await gallery(
    {
      state: String(args.state),
      out: String(args.out),
      galleryDir: args['gallery-dir'] === undefined ? undefined : String(args['gallery-dir']),
      guildId: args['server-id'] === undefined ? undefined : String(args['server-id']),
      channelIds: ((args['channel-id'] as unknown[] | undefined) ?? []).map(String),
      ...galleryS3Options(args), // --out s3:// (issue 26)
    },
    { stdout: process.stdout, signal: controller.signal, onStdoutClosed: () => controller.abort(stdoutClosed()) },
  );
  if (!args.quiet) process.stderr.write(forTerminal(`gallery: open ${terminalSafe(summary.gallery)} in a browser\n`));
  setExit(summary.exit_code);
}

async function runSimilarCommand(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  const summary = await similar(
    {
      state: String(args.state),
      distance: String(args.distance),
      guildId: args['server-id'] === undefined ? undefined : String(args['server-id']),
      channelIds: ((args['channel-id'] as unknown[] | undefined) ?? []).map(String),
    },
    { stdout: process.stdout, signal: controller.signal, onStdoutClosed: () => controller.abort(stdoutClosed()) },
  );
  setExit(summary.exit_code);
}

// --dry-run (lib/stages/simulate.ts): the walk of a real run (or retry-failed's retries), without downloading or
// writing anything.
function dryRunFlags(y: Argv): Argv {
  return y.option('dry-run', {
    type: 'boolean',
    alias: 'simulate',
    describe:
      'walk as a real run would (same channels, filters and resume point) but download nothing and write nothing to --out ' +
      "or the state; print would_save events and the summary's would_save_bytes (sizes an archive)",
    group: 'State:',
  });
}

// How the end of a run is reported beyond stdout (scrape and retry-failed).
function reportFlags(y: Argv): Argv {
  return y.option('notify', {
    type: 'string',
    describe: 'when the run ends, POST its summary JSON to this http(s) URL (a Discord webhook URL gets a short message)',
    group: 'Output:',
  });
}

// `dps retry-failed` runs scrape() too, so it takes scrape's flags from the same builder (a flag scrape reads can
// never be missing here and turn into NaN); it differs only in retrying every file type by default.
function retryFailedFlags(y: Argv): Argv {
  return scrapeFlags(y)
    .option('server-id', { type: 'string', demandOption: true, describe: 'the server (guild) id', group: 'Target:' })
    .option('channel-id', {
      type: 'string',
      array: true,
      describe: 'only the failed files of these channels (default: every channel of the server)',
      group: 'Target:',
    })
    .option('types', { type: 'string', default: 'all', describe: 'file types to retry (extensions or image/*), or "all"', group: 'Filter:' });
}

// `dps follow` (lib/follow.ts): scrape's flags, and how often it looks again (user tokens) and reports it is alive.
function followFlags(y: Argv): Argv {
  return scrapeFlags(y)
    .option('poll-interval', {
      type: 'string',
      default: '60s',
      describe: 'user tokens (no Gateway): look at every channel this often (one request per channel; at least 10s; plain number = seconds)',
      group: 'Follow:',
    })
    .option('status-interval', {
      type: 'string',
      default: '10m',
      describe: 'print a line with the totals on stderr this often (plain number = seconds; 0 = never)',
      group: 'Follow:',
    });
}

// A follow interval: "90s", "15m", "1h", or a plain number of seconds.
function seconds(value: unknown, flag: string): number {
  const text = String(value).trim();
  return /^\d+(\.\d+)?$/.test(text) ? parseDuration(Number(text) * 1000, flag) : parseDuration(text, flag);
}

const filterFlags = {
  'server-id': { type: 'string', describe: 'only this server' },
  'channel-id': { type: 'string', describe: 'only this channel' },
} as const;

function stateFlags(y: Argv): Argv {
  return y.option('state', { type: 'string', default: DEFAULTS.state, describe: 'state folder (LevelDB)' });
}

let apiNote: string | undefined;

function printApiNote(): void {
  if (apiNote) process.stderr.write(forTerminal(apiNote));
  apiNote = undefined;
}

// Token, token type and API URL from flags, the environment, or .env; warns about user tokens.
function connection(args: Record<string, unknown>): ConnectionOptions & Required<Omit<ConnectionOptions, 'backoffMs'>> {
  loadDotEnv();
  const api = (args.api as string | undefined) ?? process.env.DISCORD_API_URL ?? configValue('api', Boolean(args.quiet)) ?? DEFAULTS.api;
  const allowInsecureApi = Boolean(args['allow-insecure-api']);
  // Refused before anything else happens (exit 2, no request); a host that is not Discord's is named once.
  const { host, hostname } = checkApiUrl(api, allowInsecureApi);
  const raw = (args.token as string | undefined) ?? process.env.DISCORD_TOKEN ?? configValue('token', Boolean(args.quiet)) ?? '';
  const token = raw.trim().replace(/^Bot\s+/i, '');
  if (token) secrets.push(raw, token);
  const tokenType = args['token-type'] as 'bot' | 'user';
  if (tokenType === 'user' && !args.quiet) {
    process.stderr.write(
      "warning: automating a user account (self-bot) breaks Discord's terms of service and can get the account terminated; use a bot token.\n",
    );
  }
  // Said once the command's own input is known to be valid (a usage error stays one line), before any request.
  apiNote =
    !isDiscordApiHost(hostname) && !args.quiet
      ? `note: sending requests to the API at ${terminalSafe(host)}, not Discord's (--api / DISCORD_API_URL)\n`
      : undefined;
  const backoff = args.backoff !== undefined ? { backoffMs: parseDuration(String(args.backoff), '--backoff') } : {};
  return { token, tokenType, api, polite: Boolean(args.polite), allowInsecureApi, ...backoff };
}

async function printGuilds(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  const options = connection(args);
  printApiNote();
  for await (const guild of guilds(options, controller.signal)) await writeLine(guild);
}

async function printChannels(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  checkIds(args, ['server-id']);
  const options = { ...connection(args), guildId: String(args['server-id']), threads: Boolean(args.threads) };
  printApiNote();
  const warn = (line: string): void => void (args.quiet || process.stderr.write(`warning: ${terminalSafe(redact(line, secrets))}\n`));
  for await (const channel of channels(options, controller.signal, warn)) await writeLine(channel);
}

async function writeLine(value: unknown): Promise<void> {
  if (!process.stdout.write(`${JSON.stringify(value)}\n`)) await new Promise((r) => process.stdout.once('drain', r));
}

async function scrape(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  const { token, tokenType, api, polite, allowInsecureApi, backoffMs } = connection(args);
  const quiet = Boolean(args.quiet);
  if (!args['server-id']) throw new UsageError('missing --server-id (see dps --help)');
  const rawChannels = (args['channel-id'] as string[] | undefined) ?? [];
  const channelIds = rawChannels.includes('-') ? [...rawChannels.filter((c) => c !== '-'), ...(await readChannelIds(process.stdin))] : rawChannels;
  const options: ArchiveOptions = {
    token,
    tokenType,
    api,
    guildId: String(args['server-id']),
    channelIds,
    allChannels: Boolean(args['all-channels']),
    excludeChannelIds: (args['exclude-channel'] as string[] | undefined) ?? [],
    threads: Boolean(args.threads),
    includeNsfw: Boolean(args['include-nsfw']) && !args['exclude-nsfw'],
    out: String(args.out),
    state: String(args.state),
    types: String(args.types),
    concurrency: String(args.concurrency),
    maxConcurrency: String(args['max-concurrency']), // validated as typed (lib/options.ts), never NaN
    channelConcurrency: String(args['channel-concurrency']),
    maxChannelConcurrency: String(args['max-channel-concurrency']),
    namePattern: String(args['name-pattern']),
    fromStart: Boolean(args['from-start']) || args.resume === false, // --no-resume is --from-start
    embeds: Boolean(args.embeds),
    stickers: Boolean(args.stickers),
    polite,
    retryOnly: Boolean(args['retry-only']),
    allowInsecureApi,
    ...(backoffMs !== undefined ? { backoffMs } : {}),
  };
  if (args['max-size'] !== undefined) options.maxSize = String(args['max-size']);
  if (args['global-rate-limit'] !== undefined) options.globalRateLimit = String(args['global-rate-limit']);
  if (args['max-wait'] !== undefined) options.maxWait = String(args['max-wait']);
  if (args.timeout !== undefined) options.timeout = String(args.timeout);
  if (args['notice-wait'] !== undefined) options.noticeWait = String(args['notice-wait']);
  if (args['stall-grace'] !== undefined) options.stallGrace = String(args['stall-grace']);
  if (args.after !== undefined) options.after = String(args.after);
  if (args.before !== undefined) options.before = String(args.before);
  // Selecting (issue 23)
  if (args.author !== undefined) options.authors = (args.author as unknown[]).map(String);
  if (args['exclude-author'] !== undefined) options.excludeAuthors = (args['exclude-author'] as unknown[]).map(String);
  options.excludeBots = Boolean(args['exclude-bots']);
  if (args['min-size'] !== undefined) options.minSize = String(args['min-size']);
  if (args['min-width'] !== undefined) options.minWidth = String(args['min-width']);
  if (args['min-height'] !== undefined) options.minHeight = String(args['min-height']);
  if (args.spoilers !== undefined) options.spoilers = String(args.spoilers);
  if (args.mtime === false) options.mtime = false; // issue 23: --no-mtime
  // --write-metadata alone is 'file' (--no-write-metadata: off); any other value is checked by the library (a one-line usage error).
  if (args['write-metadata'] !== undefined && args['write-metadata'] !== false)
    options.writeMetadata = args['write-metadata'] === '' ? true : (String(args['write-metadata']) as 'file' | 'channel');
  const output = outputFlags(args); // --format, --progress-interval (issue 23)
  if (args['dry-run'] === true) options.dryRun = true; // scrape --dry-run / --simulate
  if (args['path-pattern'] !== undefined) options.pathPattern = String(args['path-pattern']); // layout (issue 23)
  if (args.notify !== undefined) options.notify = String(args.notify); // checked by archive() before the run
  if (args.gallery === true) options.gallery = true; // --gallery (issue 25)
  if (args['gallery-dir'] !== undefined) options.galleryDir = String(args['gallery-dir']);
  Object.assign(options, s3Flags(args)); // object storage (issue 26)
  let stopTuning: (() => void) | undefined;
  const io: ArchiveIO = {
    ...output,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    quiet,
    progress: (args.progress as boolean | undefined) ?? Boolean(process.stderr.isTTY),
    onStdoutClosed: () => controller.abort(stdoutClosed()),
    onStart: (totals) => {
      printApiNote(); // the options are valid and the state is open; no request has been made yet
      if (tuneHeap) stopTuning = tuneHeapGrowth(totals);
    },
  };
  const run = args.follow === true ? follow(followOptions(options, args), io) : archive(options, io);
  const result = await run.finally(() => stopTuning?.());
  setExit(result.exitCode);
}

// dps follow: scrape's options, how often to look again (user tokens) and to print the totals.
function followOptions(options: ArchiveOptions, args: Record<string, unknown>): FollowOptions {
  if (options.dryRun) throw new UsageError('dps follow has no --dry-run: size the archive with dps scrape --dry-run first');
  if (options.after !== undefined || options.before !== undefined)
    throw new UsageError('dps follow keeps a whole channel current: --after and --before are for dps scrape');
  const pollIntervalMs = seconds(args['poll-interval'] ?? '60s', '--poll-interval');
  if (pollIntervalMs < 10_000) throw new UsageError(`--poll-interval must be at least 10s, got "${String(args['poll-interval'])}"`);
  const status = String(args['status-interval'] ?? '10m').trim();
  const statusIntervalMs = status === '0' ? 0 : seconds(status, '--status-interval');
  return { ...options, pollIntervalMs, statusIntervalMs };
}

// --format (human on a terminal) and --progress-interval (lines when stderr is not a terminal and --progress is not given).
function outputFlags(args: Record<string, unknown>): { format: 'human' | 'ndjson'; progressIntervalMs: number } {
  const format = args.format === undefined ? (process.stdout.isTTY ? 'human' : 'ndjson') : String(args.format);
  if (format !== 'human' && format !== 'ndjson') throw new UsageError(`--format must be human or ndjson, got "${format}"`);
  const interval = String(args['progress-interval']);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(interval)) throw new UsageError(`--progress-interval must be a number of seconds (0: never), got "${interval}"`);
  const live = (args.progress as boolean | undefined) ?? Boolean(process.stderr.isTTY);
  const lines = args.progress === undefined && !live; // --no-progress: no lines either
  return { format, progressIntervalMs: lines ? Math.round(Number(interval) * 1000) : 0 };
}

async function printManifest(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  const filter: { guildId?: string; channelId?: string } = {};
  checkIds(args, ['server-id', 'channel-id']);
  if (args['server-id']) filter.guildId = String(args['server-id']);
  if (args['channel-id']) filter.channelId = String(args['channel-id']);
  // --format csv|tsv (issue 23): a header, then one row per record; ndjson stays the line writer below.
  const format = manifestFormat(args.format);
  if (format !== 'ndjson') {
    const formatter = manifestFormatter(format);
    let header = formatter.header ?? '';
    for await (const record of manifest(String(args.state), filter, controller.signal)) {
      await writeText(header + formatter.row(record));
      header = '';
    }
    if (header !== '') await writeText(header); // an empty manifest still has its header
    return;
  }
  for await (const record of manifest(String(args.state), filter, controller.signal)) await writeLine(record);
}

// dps manifest's own flags (issue 23).
function manifestFlags(y: Argv): Argv {
  return y.option('format', {
    type: 'string',
    default: 'ndjson',
    describe: `output format: ${MANIFEST_FORMATS.join(', ')} (csv per RFC 4180 with CRLF line ends and a header row; tsv with a header, tab, newline and backslash escaped)`,
  });
}

// The --format value, checked: a one-line usage error shows what was typed.
function manifestFormat(value: unknown): (typeof MANIFEST_FORMATS)[number] {
  const format = String(value ?? 'ndjson');
  if (!isManifestFormat(format)) throw new UsageError(`--format must be one of ${MANIFEST_FORMATS.join(', ')}, not ${JSON.stringify(format)}`);
  return format;
}

async function writeText(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
}

async function printStatus(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  const filter: { guildId?: string } = {};
  checkIds(args, ['server-id']);
  if (args['server-id']) filter.guildId = String(args['server-id']);
  const report = await status(String(args.state), filter, controller.signal);
  if (report.as_of !== undefined) {
    const age = Math.round((report.age_ms ?? 0) / 1000);
    // The running command, when its progress.json names one (`command`); otherwise the last file a run left there.
    const holder =
      report.command === undefined ? 'another dps process; showing the last progress.json' : `a running dps ${report.command}; showing its progress.json`;
    process.stderr.write(`dps: the state is in use by ${holder} as of ${report.as_of} (${age} s ago)\n`);
    if (report.estimate !== undefined) process.stderr.write(`dps: ${terminalSafe(estimateNote(report.estimate))}\n`);
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

// A filter id that is not a Discord id is a usage error (it would match nothing, silently).
function checkIds(args: Record<string, unknown>, flags: readonly string[]): void {
  for (const flag of flags) {
    const id = args[flag] as string | undefined;
    if (id !== undefined && (!isSnowflake(id) || id === '0')) {
      throw new UsageError(`--${flag} must be a Discord id (a number like 123456789012345678), got ${JSON.stringify(id)}`);
    }
  }
}

async function printStats(args: Record<string, unknown>, controller: AbortController): Promise<void> {
  const options = {
    by: args.by as StatsBy,
    guildId: args['server-id'] as string | undefined,
    channelId: args['channel-id'] as string | undefined,
  };
  const rows = await stats(String(args.state), options, controller.signal);
  const format = (args.format as string | undefined) ?? (process.stdout.isTTY ? 'table' : 'ndjson');
  if (format === 'table') process.stdout.write(`${statsTable(rows).join('\n')}\n`);
  else for (const row of rows) await writeLine(row);
}

let signalExit: number | undefined;

// The reader went away (`dps ... | head`): a clean stop, exit 0.
function stdoutClosed(): AbortedError {
  return new AbortedError('stdout closed', { exitCode: ExitCode.ok });
}

// SIGINT/SIGTERM abort the run (in-flight writes finish, the cursor is saved); a second signal exits at once.
function wireSignals(controller: AbortController): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated);
    const exitCode = signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated;
    signalExit = exitCode;
    controller.abort(new AbortedError(signal, { exitCode })); // first: the progress display clears its block for the line below
    process.stderr.write(forTerminal(`\n${signal}: finishing in-flight files and saving progress (press again to quit at once)\n`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') controller.abort(stdoutClosed());
  });
}

// Lines for stderr, broken to the terminal's width when it is one: never wider than the progress display.
function forTerminal(text: string): string {
  return process.stderr.isTTY ? wrapLines(text, process.stderr.columns - 1) : text;
}

function loadDotEnv(): void {
  try {
    process.loadEnvFile('.env');
  } catch {
    // no .env in the working directory: fine
  }
}

function setExit(code: number): void {
  process.exitCode = code;
}

function report(error: unknown): void {
  if (isDpsError(error)) {
    process.stderr.write(`dps: ${terminalSafe(redact(error.message, secrets))}\n`);
    setExit(signalExit ?? error.exitCode);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`dps: internal error: ${terminalSafe(redact(oneLine(message), secrets))}\n`);
  if (process.env.DPS_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${redact(error.stack, secrets)}\n`);
  setExit(ExitCode.partial);
}

// Object storage (issue 26): --out s3://bucket/prefix; credentials come from the AWS chain only (no flag for them).
function objectStorageFlags(y: Argv): Argv {
  const group = 'Object storage (--out s3://bucket/prefix):';
  return y
    .option('s3-endpoint', { type: 'string', describe: 'S3-compatible service URL (env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL) [default: AWS]', group })
    .option('s3-region', { type: 'string', describe: 'the S3 region (env AWS_REGION, AWS_DEFAULT_REGION) [default: us-east-1]', group })
    .option('s3-force-path-style', { type: 'boolean', describe: 'address the bucket as <endpoint>/<bucket>/<key> (MinIO, Ceph RGW, most self-hosted)', group })
    .option('s3-copy-duplicates', {
      type: 'boolean',
      describe: "give a duplicate's bytes their own object at its key (a server-side copy); default: none, its record names the first key (duplicate_of)",
      group,
    })
    .option('s3-part-size', {
      type: 'string',
      describe: 'multipart part size held in memory per upload (two in flight), at least 5MiB [default: 5MiB]',
      group,
    });
}

// Object storage (issue 26): the --s3-* flags, with the AWS environment's endpoint and region below them. The
// credentials are never read here: the AWS SDK's default chain finds them.
function s3Flags(args: Record<string, unknown>): Partial<ArchiveOptions> {
  const env = process.env;
  const flags: Partial<ArchiveOptions> = {};
  if (args['s3-force-path-style'] === true) flags.s3ForcePathStyle = true;
  if (args['s3-copy-duplicates'] === true) flags.s3CopyDuplicates = true;
  if (args['s3-part-size'] !== undefined) flags.s3PartSize = String(args['s3-part-size']);
  if (args['s3-region'] !== undefined) flags.s3Region = String(args['s3-region']);
  if (args['s3-endpoint'] !== undefined) flags.s3Endpoint = String(args['s3-endpoint']);
  if (!/^s3:\/\//i.test(String(args.out))) return flags; // refused by the library; the environment's are only S3's
  // The SDK's notice about its future Node versions is a multi-line warning on stderr; dps pins the SDK.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  if (flags.s3Endpoint === undefined && endpoint) flags.s3Endpoint = endpoint;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (flags.s3Region === undefined && region) flags.s3Region = region;
  return flags;
}

// dps gallery with --out s3://bucket/prefix (issue 26): how it reaches the bucket (credentials: the AWS chain).
function galleryS3Flags(y: Argv): Argv {
  const group = 'Object storage (--out s3://bucket/prefix: the gallery is uploaded under prefix/gallery/):';
  return y
    .option('s3-endpoint', { type: 'string', describe: 'S3-compatible service URL (env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL) [default: AWS]', group })
    .option('s3-region', { type: 'string', describe: 'the S3 region (env AWS_REGION, AWS_DEFAULT_REGION) [default: us-east-1]', group })
    .option('s3-force-path-style', { type: 'boolean', describe: 'address the bucket as <endpoint>/<bucket>/<key> (MinIO, Ceph RGW, most self-hosted)', group });
}

function galleryS3Options(args: Record<string, unknown>): { s3Endpoint?: string; s3Region?: string; s3ForcePathStyle?: boolean } {
  const flags = s3Flags(args);
  if (!/^s3:\/\//i.test(String(args.out))) {
    const given = ['s3-endpoint', 's3-region', 's3-force-path-style'].find((flag) => args[flag] !== undefined && args[flag] !== false);
    if (given) throw new UsageError(`--${given} needs --out s3://bucket/prefix, got --out ${String(args.out)}`);
  }
  return {
    ...(flags.s3Endpoint !== undefined ? { s3Endpoint: flags.s3Endpoint } : {}),
    ...(flags.s3Region !== undefined ? { s3Region: flags.s3Region } : {}),
    ...(flags.s3ForcePathStyle !== undefined ? { s3ForcePathStyle: flags.s3ForcePathStyle } : {}),
  };
}
