// lib/discord/api-url.ts: a token goes over https, or to loopback, or nowhere without --allow-insecure-api.

import t from 'tap';
import { checkApiUrl, isDiscordApiHost, isLoopback } from '../../lib/discord/api-url.js';
import { DiscordClient } from '../../lib/discord/client.js';

t.test('plain http is refused unless the host is loopback or it is allowed', async (t) => {
  for (const api of [
    'https://discord.com/api/v10',
    'https://proxy.example/api/v10',
    'http://127.0.0.1:1234/api/v10',
    'http://127.8.9.10/api',
    'http://[::1]:80/api',
    'http://localhost:3000/api/v10',
    'http://LOCALHOST./api',
  ]) {
    t.doesNotThrow(() => checkApiUrl(api), api);
  }
  for (const api of [
    'http://192.0.2.2:8080/api/v10',
    'http://evil.example/api/v10',
    'http://localhost.evil.example/api',
    'http://[fd00::2]/api',
    'http://128.0.0.1/api',
  ]) {
    t.throws(() => checkApiUrl(api), { code: 'DPS_USAGE', message: /refusing to send the token over plain http.*--allow-insecure-api/ }, api);
    t.doesNotThrow(() => checkApiUrl(api, true), `${api} with --allow-insecure-api`);
  }
  t.throws(() => checkApiUrl('ftp://discord.com/api'), { code: 'DPS_USAGE' }, 'not http(s)');
  t.throws(() => new DiscordClient({ token: 'x'.repeat(30), api: 'http://192.0.2.2/api/v10' }), { code: 'DPS_USAGE' }, 'the client itself refuses');
});

t.test('loopback and Discord hosts', async (t) => {
  t.ok(isLoopback('127.0.0.1') && isLoopback('[::1]') && isLoopback('[::ffff:7f00:1]') && isLoopback('localhost'));
  t.notOk(isLoopback('0.0.0.0') || isLoopback('192.0.2.2') || isLoopback('127.0.0.1.nip.io'));
  t.ok(isDiscordApiHost('discord.com') && isDiscordApiHost('canary.discord.com') && isDiscordApiHost('discordapp.com'));
  t.notOk(isDiscordApiHost('discord.com.evil.example') || isDiscordApiHost('127.0.0.1'));
});
