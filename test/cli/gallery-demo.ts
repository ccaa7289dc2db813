// The start the gallery's end-to-end tests share (issue 25): the fake's demo server scraped with --all-channels
// into a test folder, and the state's saved records (from `dps manifest`), with the distinct images among them.

import { join } from 'node:path';
import type { Test } from 'tap';
import { demoScenario } from '../../fixtures/scenarios.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { fakeFor, runDps } from './helpers.js';
import type { Line } from './helpers.js';

export interface ScrapedDemo {
  fake: FakeDiscord;
  guildId: string;
  dir: string;
  out: string;
  state: string;
  env: Record<string, string>;
  scrape: string[]; // the scrape's arguments, for a later run
  records: Line[]; // every saved file
  images: Line[]; // saved images that are no duplicate (one file each)
}

export async function scrapedDemo(t: Test): Promise<ScrapedDemo> {
  const fake = await fakeFor(t, { scenario: demoScenario() });
  const guildId = fake.scenario.guilds[0]!.id;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const env = { DISCORD_TOKEN: fake.token };
  const scrape = ['--server-id', guildId, '--all-channels', '--api', fake.api, '--out', out, '--state', state];
  const run = await runDps(scrape, { env });
  t.equal(run.code, 0, `scrape exit 0 (stderr: ${run.stderr})`);
  const records = (await runDps(['manifest', '--state', state])).lines.filter((r) => r.status === 'saved');
  const images = records.filter((r) => String(r.content_type).startsWith('image/') && r.duplicate_of === undefined);
  return { fake, guildId, dir, out, state, env, scrape, records, images };
}
