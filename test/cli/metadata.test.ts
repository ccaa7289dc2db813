// Issue 23, metadata, end to end: a scrape with --write-metadata over a channel with a thread, a forward and
// hostile texts; every record of `dps manifest` and every sidecar is compared field by field with the messages
// as the fake's API serves them (fetched directly here); `--format csv|tsv` parses back to the same records;
// bad --write-metadata and --format values are one-line usage errors (exit 2) that show the value.

import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { MANIFEST_COLUMNS } from '../../lib/output/manifest-format.js';
import { openStore } from '../../lib/store/open.js';
import { parseCsv, parseTsv } from '../helpers/delimited.js';
import { fakeFor, rawLines, runDps } from './helpers.js';
import type { Line } from './helpers.js';

const HOSTILE = 'comma, "quotes"\r\nCRLF\nnewline\ttab \\ backslash 😀 \u0007bell =SUM(A1)';

const scenario = () =>
  buildScenario({
    seed: 23,
    guilds: [
      {
        name: 'Meta, "Server" 📷',
        channels: [
          {
            name: 'general',
            messages: 24,
            imageRatio: 0.5,
            gapRate: 0,
            special: ['rich', 'hostile', 'duplicates'],
            overrides: {
              1: {
                content: HOSTILE,
                attachments: [{ filename: 'alt.png', contentType: 'image/png', size: 3000, width: 10, height: 20, description: `alt ${HOSTILE}`, flags: 8 }],
              },
            },
            threads: [{ name: 'a, "thread"\twith tab', messages: 6, imageRatio: 1, gapRate: 0 }],
          },
        ],
      },
    ],
  });

type ApiMessage = {
  id: string;
  channel_id: string;
  timestamp: string;
  edited_timestamp: string | null;
  content: string;
  webhook_id?: string;
  author: { id: string; username: string; global_name: string | null; bot?: boolean };
  attachments: ApiAttachment[];
  message_snapshots?: Array<{ message: { attachments: ApiAttachment[] } }>;
  components?: Array<{ items?: Array<{ media: { attachment_id?: string; width?: number; height?: number }; description?: string | null; spoiler?: boolean }> }>;
};
type ApiAttachment = { id: string; filename: string; width?: number; height?: number; description?: string; flags?: number };

async function api<T>(fake: FakeDiscord, path: string): Promise<T> {
  const response = await fetch(`${fake.api}${path}`, { headers: { authorization: `Bot ${fake.token}`, 'user-agent': 'dps-test' } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return (await response.json()) as T;
}

// Every message of a channel, straight from the fake's API.
async function history(fake: FakeDiscord, channelId: string): Promise<ApiMessage[]> {
  const all: ApiMessage[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await api<ApiMessage[]>(fake, `/channels/${channelId}/messages?limit=100${before ? `&before=${before}` : ''}`);
    all.push(...page);
    if (page.length < 100) return all;
    before = page.at(-1)!.id;
  }
}

// What a record (or sidecar) must say about its message and attachment, from the API's view of them.
function expectedFields(
  message: ApiMessage,
  attachmentId: string,
  where: { guild_id: string; guild_name: string; channel_id: string; channel_name: string; thread_name?: string },
): Record<string, unknown> {
  const attachment =
    message.attachments.find((a) => a.id === attachmentId) ??
    message.message_snapshots?.flatMap((s) => s.message.attachments).find((a) => a.id === attachmentId);
  const gallery = message.components?.flatMap((c) => c.items ?? []).find((i) => i.media.attachment_id === attachmentId);
  const media = gallery?.media;
  const fields: Record<string, unknown> = {
    message_id: message.id,
    timestamp: message.timestamp,
    edited_timestamp: message.edited_timestamp,
    author_id: message.author.id,
    author_name: message.author.username,
    author_bot: message.author.bot === true || message.webhook_id !== undefined,
    content: message.content,
    guild_name: where.guild_name,
    channel_name: where.channel_name,
    jump_url: `https://discord.com/channels/${where.guild_id}/${where.channel_id}/${message.id}`,
    width: attachment?.width ?? media?.width,
    height: attachment?.height ?? media?.height,
    description: attachment?.description ?? gallery?.description ?? undefined,
    // IS_SPOILER (1 << 3), or the legacy SPOILER_ name prefix; a gallery item's own spoiler mark.
    spoiler: attachment !== undefined ? ((attachment.flags ?? 0) & 8) !== 0 || attachment.filename.startsWith('SPOILER_') : gallery?.spoiler === true,
  };
  if (message.author.global_name !== null) fields.author_display_name = message.author.global_name;
  if (where.thread_name !== undefined) fields.thread_name = where.thread_name;
  return fields;
}

// The fields of `actual` that `expected` names, undefined ones as absent.
function pick(actual: Record<string, unknown>, expected: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(expected).map((k) => [k, actual[k]]));
}

const defined = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

t.test('--write-metadata: sidecars and the manifest say what the messages say (thread, forward, hostile text)', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels.find((c) => c.gen && !c.thread)!;
  const thread = guild.channels.find((c) => c.thread)!;
  const env = { DISCORD_TOKEN: fake.token };
  const args = ['--server-id', guild.id, '--channel-id', channel.id, '--api', fake.api, '--out', out, '--state', state, '--types', 'all'];
  const run = await runDps([...args, '--write-metadata', '--no-progress'], { env });
  t.equal(run.code, 0, run.stderr);

  // The messages and names, from the API.
  const apiGuild = await api<{ id: string; name: string }>(fake, `/guilds/${guild.id}`);
  const apiChannel = await api<{ name: string }>(fake, `/channels/${channel.id}`);
  const apiThread = await api<{ name: string; parent_id: string }>(fake, `/channels/${thread.id}`);
  t.equal(apiThread.parent_id, channel.id);
  const messages = new Map<string, { message: ApiMessage; where: Parameters<typeof expectedFields>[2] }>();
  for (const m of await history(fake, channel.id))
    messages.set(m.id, { message: m, where: { guild_id: guild.id, guild_name: apiGuild.name, channel_id: channel.id, channel_name: apiChannel.name } });
  for (const m of await history(fake, thread.id)) {
    const where = { guild_id: guild.id, guild_name: apiGuild.name, channel_id: thread.id, channel_name: apiChannel.name, thread_name: apiThread.name };
    messages.set(m.id, { message: m, where });
  }

  const manifest = await runDps(['manifest', '--state', state], { env });
  t.equal(manifest.code, 0, manifest.stderr);
  const records = rawLines(manifest.stdout) as Line[];
  const saved = records.filter((r) => r.status === 'saved');
  t.ok(saved.length >= 20, `${saved.length} saved records`);
  t.ok(
    saved.some((r) => r.thread_name !== undefined),
    'a thread file is among them',
  );
  t.ok(
    saved.some((r) => r.source === 'forward'),
    'a forwarded file is among them',
  );
  t.ok(
    saved.some((r) => r.spoiler === true && String(r.filename).startsWith('SPOILER_')),
    'a SPOILER_ file is among them',
  );
  t.ok(
    saved.some((r) => r.content === HOSTILE),
    'the hostile text is among them',
  );
  let sidecars = 0;
  for (const record of saved) {
    const found = messages.get(String(record.message_id));
    if (found === undefined) {
      t.fail(`no message ${record.message_id}`);
      continue;
    }
    const expected = expectedFields(found.message, String(record.attachment_id), found.where);
    t.same(defined(pick(record, expected)), defined(expected), `manifest record ${record.attachment_id} of message ${record.message_id}`);
    const path = String(record.path);
    const own = record.duplicate_of === undefined || record.duplicate_of !== path;
    const sidecar = own ? (JSON.parse(await readFile(`${path}.json`, 'utf8')) as Record<string, unknown>) : undefined;
    if (sidecar === undefined) continue;
    sidecars++;
    t.same(defined(pick(sidecar, expected)), defined(expected), `sidecar of ${record.attachment_id}`);
    t.same(
      pick(sidecar, { path: 1, sha256: 1, bytes: 1, filename: 1, attachment_id: 1, content_type: 1, source: 1, duplicate_of: 1 }),
      pick(record, { path: 1, sha256: 1, bytes: 1, filename: 1, attachment_id: 1, content_type: 1, source: 1, duplicate_of: 1 }),
      `sidecar file fields of ${record.attachment_id}`,
    );
  }
  t.ok(sidecars >= 20, `${sidecars} sidecars checked`);
  const linked = saved.filter((r) => r.duplicate_of !== undefined && r.duplicate_of !== r.path);
  t.ok(linked.length > 0, `${linked.length} linked duplicates, each with its own sidecar saying so (checked above)`);
  // A downloaded file's sidecar is written with it (lib/stages/write.ts): no claim of its own in the state.
  const store = await openStore(state);
  const claimed: unknown[] = [];
  for (const record of saved)
    if (record.duplicate_of === undefined && (await store.storedClaim(`${String(record.path)}.json`)) !== undefined) claimed.push(record.path);
  await store.close();
  t.same(claimed, [], 'no sidecar of a downloaded file claims its name in the state');

  // CSV and TSV parse back to the NDJSON records, column by column.
  for (const format of ['csv', 'tsv'] as const) {
    const listed = await runDps(['manifest', '--state', state, '--format', format], { env });
    t.equal(listed.code, 0, listed.stderr);
    const rows = format === 'csv' ? parseCsv(listed.stdout) : parseTsv(listed.stdout);
    t.same(rows[0], [...MANIFEST_COLUMNS], `${format}: the header row`);
    t.equal(rows.length - 1, records.length, `${format}: one row per record`);
    const asCells = (r: Line): string[] =>
      MANIFEST_COLUMNS.map((c) => {
        const v = r[c];
        return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      });
    t.same(rows.slice(1), records.map(asCells), `${format}: every cell equals the record's value`);
  }
});

t.test('bad --write-metadata and --format values: one-line usage errors showing the value', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels.find((c) => c.gen && !c.thread)!;
  const env = { DISCORD_TOKEN: fake.token };
  const args = ['--server-id', guild.id, '--channel-id', channel.id, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const bad = await runDps([...args, '--write-metadata=sidecars'], { env });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--write-metadata must be file or channel .*"sidecars"/);
  t.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
  t.equal(bad.stdout, '');
  const format = await runDps(['manifest', '--state', join(dir, 'state'), '--format', 'xml'], { env });
  t.equal(format.code, 2);
  t.match(format.stderr, /--format must be one of ndjson, csv, tsv, not "xml"/);
  t.equal(format.stderr.trim().split('\n').length, 1, 'one line');
});

t.test('records written before the metadata fields existed stay readable: manifest prints what they have', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const store = await openStore(state);
  // The shape today's state holds (no message context).
  const old = {
    attachment_id: '700000000000000001',
    guild_id: '700000000000000002',
    channel_id: '700000000000000003',
    message_id: '700000000000000004',
    filename: 'old, "one".png',
    content_type: 'image/png',
    timestamp: '2021-05-01T10:00:00.000000+00:00',
    source: 'attachment' as const,
    status: 'saved' as const,
    path: join(dir, 'out', 'old.png'),
    sha256: 'a'.repeat(64),
    bytes: 12,
    updated_at: '2024-01-01T00:00:00.000Z',
  };
  await store.recordSaved(old, { newHash: true, ownsPath: true });
  await store.close();
  const listed = await runDps(['manifest', '--state', state]);
  t.equal(listed.code, 0, listed.stderr);
  t.same(rawLines(listed.stdout), [old], 'NDJSON: the record as it was written, nothing invented');
  const csv = await runDps(['manifest', '--state', state, '--format', 'csv']);
  t.equal(csv.code, 0, csv.stderr);
  const rows = parseCsv(csv.stdout);
  t.equal(rows.length, 2);
  const row = Object.fromEntries(MANIFEST_COLUMNS.map((c, i) => [c, rows[1]![i]]));
  t.match(row, { filename: 'old, "one".png', bytes: '12', content: '', thread_name: '', jump_url: '' });
  const empty = join(dir, 'empty-state');
  const fresh = await openStore(empty);
  await fresh.close();
  const none = await runDps(['manifest', '--state', empty, '--format', 'tsv']);
  t.equal(none.code, 0, none.stderr);
  t.equal(none.stdout, `${MANIFEST_COLUMNS.join('\t')}\n`, 'an empty manifest still has its header');
});
