// The Discord client's and the CDN downloads' defaults, in one place: options.ts builds its DEFAULTS from them,
// and the client and downloads fall back to them when a caller (a test, a library user) leaves an option out.

import { packageVersion } from '../util/package-version.js';

export const DEFAULT_API = 'https://discord.com/api/v10';

export const NETWORK_DEFAULTS = {
  retries: 5, // attempts after the first, for 5xx, network faults and malformed bodies
  backoffMs: 500, // first backoff, doubled each attempt
  globalPerSecond: 50, // Discord's global limit, requests per second per bot
  apiTimeoutMs: 30_000, // an API request with no answer for this long fails (and is retried)
  downloadTimeoutMs: 60_000, // a download with no headers, or no data, for this long fails (and is retried)
} as const;

// Appended to the REST client's User-Agent, and the whole User-Agent of CDN downloads
// (docs/discord-api.md#user-agent-and-api-version): the version is the package's own.
export const USER_AGENT_APPENDIX = `discord-photo-scraper/${packageVersion()}`;
export const DOWNLOAD_USER_AGENT = `DiscordBot (https://github.com/discord-photo-scraper, ${packageVersion()}) ${USER_AGENT_APPENDIX}`;
