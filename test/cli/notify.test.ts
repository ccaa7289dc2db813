// --notify end to end: the built CLI against the fake Discord, the summary posted to a receiver on 127.0.0.1 when
// the run ends (a success, a SIGINT), a webhook-shaped path gets {content}, one retry, a dead receiver is one
// warning and never changes the exit code, the token is never sent, a bad URL is refused before any request.

import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { listFiles } from '../helpers/harness.js';
import { channelArgs, fakeFor, ofEvent, runDps, startCli, stderrLines } from './helpers.js';
import type { Finished } from './helpers.js';

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

async function receiver(t: Test, statuses: number[] = [200]): Promise<{ url: string; requests: Received[] }> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(statuses[Math.min(requests.length - 1, statuses.length - 1)]!).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const scenario = () => singleChannel({ seed: 23, messages: 20, imageRatio: 0.5, sizes: [2_000, 20_000] });

// The summary line exactly as printed on stdout.
function summaryLine(run: Finished): string {
  return run.stdout.split('\n').find((line) => line.startsWith('{"event":"summary"')) ?? '';
}

t.test('scrape and retry-failed post the summary printed on stdout; the token is never sent', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const { url, requests } = await receiver(t);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const run = await runDps([...channelArgs(fake, out, state), '--notify', `${url}/hook?run=1`], { env: { DISCORD_TOKEN: fake.token } });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  const saved = run.lines.filter(ofEvent('saved')).length;
  t.ok(saved > 0, `${saved} files saved`);
  t.equal((await listFiles(out)).length, saved, 'every saved file is on disk');
  t.equal(requests.length, 1, 'one POST');
  t.equal(requests[0]!.url, '/hook?run=1');
  t.equal(requests[0]!.body, summaryLine(run).trimEnd(), 'the body is the summary line, byte for byte');
  t.equal(stderrLines(run.stderr).filter((l) => l.includes('--notify')).length, 0, 'no warning');

  const retry = await runDps(['retry-failed', ...channelArgs(fake, out, state), '--notify', `${url}/retry`], { env: { DISCORD_TOKEN: fake.token } });
  t.equal(retry.code, 0, `retry-failed exit 0 (stderr: ${retry.stderr})`);
  t.equal(requests.length, 2, 'retry-failed posts too');
  t.equal(requests[1]!.body, summaryLine(retry).trimEnd());
  t.notOk(JSON.stringify(requests).includes(fake.token), 'the token is in no path, header or body');
});

t.test('a webhook-shaped URL gets {content}; 500 then 200 is two tries', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const { url, requests } = await receiver(t, [500, 204]);
  const dir = t.testdir();
  const run = await runDps([...channelArgs(fake, join(dir, 'out'), join(dir, 'state')), '--notify', `${url}/api/webhooks/123456789012345678/hook-secret`], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  t.equal(requests.length, 2, 'two tries');
  const body = JSON.parse(requests[1]!.body) as { content: string };
  const summary = JSON.parse(summaryLine(run)) as { saved: number };
  t.match(body.content, new RegExp(`^dps \\(server \\d+\\): ${summary.saved} files saved \\(\\d+ duplicates\\), 0 failed, \\d+ skipped; .* exit 0$`));
  t.equal(stderrLines(run.stderr).filter((l) => l.includes('--notify')).length, 0, 'delivered: no warning');
  t.notOk(JSON.stringify(requests).includes(fake.token), 'no token');
});

t.test('a dead receiver: one warning line, the exit code unchanged', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const dir = t.testdir();
  const run = await runDps([...channelArgs(fake, join(dir, 'out'), join(dir, 'state')), '--notify', 'http://127.0.0.1:9/hook/secret-path', '--quiet'], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(run.code, 0, 'exit 0, as without --notify');
  t.same(
    stderrLines(run.stderr),
    ['warning: --notify: could not post the summary to 127.0.0.1:9: network error (ECONNREFUSED)'],
    'one line, even with --quiet',
  );
  t.ok(summaryLine(run), 'the summary is printed');
});

t.test('a bad URL: exit 2 before any request', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const dir = t.testdir();
  const run = await runDps([...channelArgs(fake, join(dir, 'out'), join(dir, 'state')), '--notify', 'ftp://example.com/x'], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(run.code, 2);
  t.same(stderrLines(run.stderr), ['dps: --notify must be an http or https URL, got "ftp://example.com/x"']);
  t.equal(fake.requests.length, 0, 'no request');
});

t.test('SIGINT: the interrupted run still posts its summary (exit 130)', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario(), cdnHoldAfter: 2 });
  const { url, requests } = await receiver(t);
  const dir = t.testdir();
  const cli = startCli([...channelArgs(fake, join(dir, 'out'), join(dir, 'state')), '--notify', url, '--concurrency', '2'], {
    env: { DISCORD_TOKEN: fake.token },
  });
  await cli.waitFor(2, ofEvent('saved'));
  cli.child.kill('SIGINT');
  setTimeout(() => fake.releaseCdn(), 200).unref();
  const run = await cli.done;
  t.equal(run.code, 130, `exit 130 (stderr: ${run.stderr})`);
  t.equal(requests.length, 1, 'posted');
  t.equal(requests[0]!.body, summaryLine(run).trimEnd(), 'the summary printed');
  t.equal((JSON.parse(requests[0]!.body) as { exit_code: number }).exit_code, 130);
});
