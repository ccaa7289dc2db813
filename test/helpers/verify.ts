// Checks an archive against the fake's expected set using only what is on disk: the state (manifest) and the
// files under --out. Used by the fault tests, where events are spread over several runs or processes.

import { lstat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Test } from 'tap';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { manifest } from '../../lib/index.js';
import type { AttachmentRecord } from '../../lib/index.js';
import { collect, listFiles, sha256File } from './harness.js';

export interface ArchiveCheck {
  expected: number;
  exact: number; // expected attachments saved, byte-identical on disk
  missing: string[]; // expected attachment ids without a correct saved record + file
  extraFiles: string[]; // files under --out that no saved record points at
  tempFiles: string[];
  failedRecords: number;
  savedRecords: number;
}

// Compares --out and the state with fake.expected({ channelId }) (all channels when channelId is undefined).
export async function checkArchive(fake: FakeDiscord, out: string, state: string, channelId?: string): Promise<ArchiveCheck> {
  const expected = await collect(fake.expected(channelId === undefined ? {} : { channelId }));
  const records = await collect(manifest(state));
  const byId = new Map<string, AttachmentRecord>(records.map((r) => [r.attachment_id, r]));
  const missing: string[] = [];
  let exact = 0;
  for (const want of expected) {
    const rec = byId.get(want.attachment_id);
    if (rec?.status !== 'saved' || !rec.path || rec.sha256 !== want.sha256 || rec.bytes !== want.size) {
      missing.push(want.attachment_id);
      continue;
    }
    const stat = await lstat(rec.path).catch(() => undefined);
    if (!stat?.isFile() || stat.size !== want.size || (await sha256File(rec.path)) !== want.sha256) missing.push(want.attachment_id);
    else exact++;
  }
  const files = await listFiles(out);
  const known = new Set(records.filter((r) => r.status === 'saved' && r.path).map((r) => relative(out, r.path!)));
  return {
    expected: expected.length,
    exact,
    missing,
    extraFiles: files.filter((f) => !known.has(f) && !f.endsWith('.dps-tmp')),
    tempFiles: files.filter((f) => f.endsWith('.dps-tmp')),
    failedRecords: records.filter((r) => r.status === 'failed').length,
    savedRecords: records.filter((r) => r.status === 'saved').length,
  };
}

// Asserts that the archive is complete and exact: every expected file byte-identical, nothing else, no temps.
export async function assertExact(t: Test, fake: FakeDiscord, out: string, state: string, channelId?: string): Promise<ArchiveCheck> {
  const check = await checkArchive(fake, out, state, channelId);
  t.ok(check.expected > 0, `the fake holds ${check.expected} files`);
  t.equal(check.exact, check.expected, 'every expected file is archived byte-exact');
  t.same(check.missing, [], 'no expected file is missing or wrong');
  t.same(check.extraFiles, [], 'no file under --out that the state does not know');
  t.same(check.tempFiles, [], 'no temp files left');
  t.equal(check.failedRecords, 0, 'no failed records left in the state');
  return check;
}

// Common library options for a fake + temp dir.
export function baseOptions(fake: FakeDiscord, dir: string, channelId: string) {
  const guild = fake.scenario.guilds[0]!;
  return { token: fake.token, api: fake.api, guildId: guild.id, channelIds: [channelId], out: join(dir, 'out'), state: join(dir, 'state'), types: 'all' };
}

// The failed reasons README documents (besides http_<status>): a test fails on any other.
const DOCUMENTED_REASONS = [
  'expired',
  'size_mismatch',
  'network',
  'refused_host',
  'too_many_redirects',
  'output_unwritable',
  'invalid_attachment',
  'content_type_mismatch',
  'output_unsafe',
];
export function isDocumentedReason(reason: string): boolean {
  return DOCUMENTED_REASONS.includes(reason) || /^http_\d{3}$/.test(reason);
}
