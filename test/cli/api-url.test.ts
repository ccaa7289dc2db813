// A `.env` in the working folder cannot redirect the token to a plain-http host: the CLI refuses with exit 2
// and one line before any connection (a listener on this machine's own non-loopback address proves it),
// --allow-insecure-api lifts that, and an API host that is not Discord's is named on stderr.

import t from 'tap';
import type { Test } from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { API_HOST_NOTE, fakeFor, firstTarget, runDps, stderrLines } from './helpers.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.abcdef.secret-token-that-must-not-travel-in-clear';

// An IPv4 address of this machine that is not loopback (or 192.0.2.1, TEST-NET, when there is none).
function ownAddress(): { ip: string; local: boolean } {
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal) return { ip: entry.address, local: true };
  }
  return { ip: '192.0.2.1', local: false };
}

// A TCP listener on every address that counts the connections it is offered.
async function listener(t: Test): Promise<{ port: number; connections: () => number }> {
  let count = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    count++;
    sockets.push(socket);
    const body = '{"message": "401: Unauthorized", "code": 0}';
    socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connections: () => count };
}

t.test('a .env pointing DISCORD_API_URL at plain http on another host: exit 2, one line, no connection', async (t) => {
  const { ip, local } = ownAddress();
  const server = await listener(t);
  const dir = t.testdir();
  writeFileSync(join(dir, '.env'), `DISCORD_TOKEN=${TOKEN}\nDISCORD_API_URL=http://${ip}:${server.port}/api/v10\n`);
  const commands = [
    ['--server-id', '123456789012345678', '--channel-id', '123456789012345679', '--out', join(dir, 'out'), '--state', join(dir, 'state')],
    ['retry-failed', '--server-id', '123456789012345678', '--out', join(dir, 'out'), '--state', join(dir, 'state')],
    ['guilds'],
    ['channels', '--server-id', '123456789012345678'],
  ];
  const runs = await Promise.all(commands.map((args) => runDps(args, { cwd: dir })));
  for (const [i, args] of commands.entries()) {
    const run = runs[i]!;
    t.equal(run.code, 2, `${args[0]}: exit 2`);
    const lines = stderrLines(run.stderr);
    t.equal(lines.length, 1, `${args[0]}: one line: ${run.stderr}`);
    t.match(
      lines[0],
      new RegExp(`refusing to send the token over plain http to ${ip.replace(/\./g, '\\.')}:${server.port}.*--allow-insecure-api`),
      `${args[0]}: says why and how`,
    );
    t.notOk(run.stderr.includes(TOKEN) || run.stdout.includes(TOKEN), 'the token is not printed');
    t.equal(run.stdout, '', 'nothing on stdout');
  }
  t.notOk(existsSync(join(dir, 'state')), 'no state folder created');
  if (local) t.equal(server.connections(), 0, `the listener at ${ip} was never contacted`);
});

t.test('--allow-insecure-api lets the request go (and names the host)', { skip: ownAddress().local ? false : 'no non-loopback address' }, async (t) => {
  const { ip } = ownAddress();
  const server = await listener(t);
  const dir = t.testdir();
  writeFileSync(join(dir, '.env'), `DISCORD_TOKEN=${TOKEN}\nDISCORD_API_URL=http://${ip}:${server.port}/api/v10\n`);
  const run = await runDps(['guilds', '--allow-insecure-api'], { cwd: dir });
  t.equal(run.code, 3, `the request went out (the listener answers 401): ${run.stderr}`);
  t.ok(server.connections() > 0, 'the listener was contacted');
  t.match(run.stderr, `${API_HOST_NOTE}${ip}:${server.port}`, 'the host is named');
});

t.test('the fake on loopback is allowed over http, and its host is named on stderr', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 15, messages: 5 }) });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const run = await runDps(['--server-id', G, '--channel-id', C, '--out', join(dir, 'out'), '--state', join(dir, 'state')], {
    env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api },
  });
  t.equal(run.code, 0, `exit 0: ${run.stderr}`);
  const host = new URL(fake.api).host;
  t.equal(run.stderr.split('\n').filter((l) => l.startsWith(API_HOST_NOTE)).length, 1, 'one line names the API host');
  t.match(run.stderr, `${API_HOST_NOTE}${host}, not Discord's`, `names ${host}`);
  const quiet = await runDps(['guilds', '--quiet'], { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } });
  t.equal(quiet.stderr, '', '--quiet leaves it out');
});
