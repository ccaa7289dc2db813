// Where the token may be sent. The API URL can come from a `.env` in whatever folder dps runs in, so a planted
// `DISCORD_API_URL=http://...` would otherwise send the token in clear to a stranger: a token only goes over
// https, or to this machine (loopback: tests and the bundled fake), unless the user says --allow-insecure-api.

import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { DEFAULT_API } from './defaults.js';

// Discord's own API hosts; any other host is named on stderr before a run starts.
const DISCORD_API_HOSTS = new Set(['discord.com', 'discordapp.com', 'canary.discord.com', 'ptb.discord.com', 'canary.discordapp.com', 'ptb.discordapp.com']);

// The parsed API URL, or a UsageError (one line, no request made) when a token must not be sent to it.
export function checkApiUrl(api: string, allowInsecure = false): URL {
  let url: URL;
  try {
    url = new URL(api);
  } catch {
    throw new UsageError(`--api is not a URL: ${api}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--api must be http(s): ${api}`);
  if (url.protocol === 'http:' && !allowInsecure && !isLoopback(url.hostname)) {
    throw new UsageError(
      `refusing to send the token over plain http to ${url.host} (from --api or DISCORD_API_URL, perhaps a .env in this folder): use https, or pass --allow-insecure-api`,
    );
  }
  return url;
}

// The API base without trailing slashes, and its parsed URL once checked (checkApiUrl): options.ts calls it to
// refuse a bad --api before anything is opened, the client because a library caller may construct it directly.
export function resolveApiUrl(api: string | undefined, allowInsecure = false): { api: string; url: URL } {
  const base = (api ?? DEFAULT_API).replace(/\/+$/, '');
  return { api: base, url: checkApiUrl(base, allowInsecure) };
}

// True for Discord's API hosts (the default https://discord.com/api/v10 and its aliases).
export function isDiscordApiHost(hostname: string): boolean {
  return DISCORD_API_HOSTS.has(hostname.toLowerCase().replace(/\.$/, ''));
}

// 127.0.0.0/8, ::1 (also as an IPv4-mapped address) and localhost: traffic that never leaves this machine.
export function isLoopback(hostname: string): boolean {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:(127\.|7f)/.test(host);
  return false;
}
