// `dps demo` / `npm run demo`: start the bundled fake Discord with a small demo server and archive all of
// it into ./data, showing the whole flow (events on stdout, progress on stderr) without a network.

import { archive, terminalSafe } from '../lib/index.js';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { demoScenario } from '../fixtures/scenarios.js';

export interface DemoOptions {
  out: string;
  state: string;
  signal: AbortSignal;
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const fake = await startFakeDiscord({ scenario: demoScenario() });
  try {
    const guild = fake.scenario.guilds[0]!;
    process.stderr.write(
      `demo: fake Discord at ${fake.api}; archiving every readable channel, thread and forum post of "${terminalSafe(guild.name)}" into ${options.out}\n`,
    );
    const result = await archive(
      { token: fake.token, api: fake.api, guildId: guild.id, allChannels: true, out: options.out, state: options.state },
      { stdout: process.stdout, stderr: process.stderr, signal: options.signal, progress: Boolean(process.stderr.isTTY) },
    );
    process.stderr.write(
      `demo: saved ${result.totals.saved} files (${result.totals.duplicates} duplicates linked), skipped ${result.totals.skipped}, failed ${result.totals.failed}. ` +
        `Run it again: only new messages are fetched. Try: dps manifest --state ${options.state} | head\n`,
    );
    return result.exitCode;
  } finally {
    await fake.close();
  }
}
