// CDN downloads over one pooled undici Agent. Redirects are followed only to https Discord hosts (or the
// configured API/CDN origin in tests); signed URLs are kept verbatim (docs/discord-api.md#signed-url-parameters);
// a 404/403 on a signed URL means "expired" first (docs/discord-api.md#expiry) so the caller refreshes it.

import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { DownloadError } from '../errors.js';
import { DOWNLOAD_USER_AGENT, NETWORK_DEFAULTS } from './defaults.js';
import { parseRetryAfter } from './rate-limit-headers.js';

export const DISCORD_CDN_HOSTS = ['cdn.discordapp.com', 'media.discordapp.net', 'cdn.discord.com', 'media.discord.net'];
const MAX_REDIRECTS = 5;

export interface DownloadOptions {
  agent: Dispatcher;
  signal?: AbortSignal | undefined;
  allowedOrigins?: readonly string[]; // extra origins (http allowed) besides https Discord hosts
  timeoutMs?: number;
}

export interface OpenedDownload {
  body: AsyncIterable<Uint8Array> & { dump(): Promise<void> };
  contentLength: number | undefined;
  contentType: string | undefined;
}

// The shared download Agent: keep-alive pooled connections, bounded per origin.
// `timeoutMs` (--timeout): how long a response may take to send its headers, or pause between bytes.
export function createDownloadAgent(connections = 16, timeoutMs: number = NETWORK_DEFAULTS.downloadTimeoutMs): Agent {
  return new Agent({ connections, keepAliveTimeout: 10_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
}

// Opens a download; resolves once the 200 headers arrive. The caller consumes or dumps the body.
export async function openDownload(url: string, options: DownloadOptions): Promise<OpenedDownload> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (!isAllowed(current, options.allowedOrigins ?? [])) {
      throw new DownloadError(`refusing to download from ${safeOrigin(current)}: not a Discord host`, { retryable: false, reason: 'refused_host' });
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(current, {
        dispatcher: options.agent,
        method: 'GET',
        signal: options.signal,
        headers: { 'user-agent': DOWNLOAD_USER_AGENT },
        headersTimeout: options.timeoutMs ?? NETWORK_DEFAULTS.downloadTimeoutMs,
        bodyTimeout: options.timeoutMs ?? NETWORK_DEFAULTS.downloadTimeoutMs,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new DownloadError(`network error: ${(error as Error).message}`, { cause: error, retryable: true, reason: 'network' });
    }
    const { statusCode, headers, body } = response;
    if (statusCode >= 300 && statusCode < 400 && typeof headers.location === 'string') {
      await body.dump();
      current = new URL(headers.location, current).toString();
      continue;
    }
    if (statusCode === 200) {
      const length = Number(headers['content-length']);
      return {
        body,
        contentLength: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
        contentType: typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined,
      };
    }
    await body.dump().catch(() => undefined);
    const retryAfter = parseRetryAfter(headers['retry-after']);
    // A 404/403 on a signed attachment link is first taken for an expired link (`expired`: the caller refreshes
    // it); its reason stays the status, which is what a link that cannot be refreshed fails with.
    const expired = (statusCode === 404 || statusCode === 403) && (isSignedUrl(current) || isAttachmentUrl(current));
    const retryable = statusCode === 429 || statusCode >= 500 || statusCode === 408;
    throw new DownloadError(`CDN answered ${statusCode}${expired ? ' (link expired or file removed)' : ''}`, {
      retryable,
      expired,
      reason: `http_${statusCode}`,
      status: statusCode,
      retryAfterMs: retryAfter === undefined ? undefined : retryAfter * 1000,
    });
  }
  throw new DownloadError('too many redirects', { retryable: false, reason: 'too_many_redirects' });
}

const IMAGE_EXTENSIONS = /\.(png|jpe?g|jfif|gif|webp|avif|bmp|tiff?|heic|heif|svg|ico|apng)$/i;

// A body whose content type says it cannot be the image Discord announced (a proxy's HTML page, a JSON error,
// text), even when it has exactly the announced size: a non-retryable DownloadError with reason
// `content_type_mismatch`, or undefined when the body may be the file. Only images are judged; a CDN that sends
// no content type (or a generic one) is trusted to the size and sha256 checks.
export function contentTypeMismatch(item: { content_type?: string | undefined; filename: string }, received: string | undefined): DownloadError | undefined {
  const declared = item.content_type?.split(';')[0]?.trim().toLowerCase();
  const image = declared ? declared.startsWith('image/') : IMAGE_EXTENSIONS.test(item.filename);
  const got = received?.split(';')[0]?.trim().toLowerCase();
  if (!image || !got) return undefined;
  const markup = got === 'text/html' || got === 'application/xhtml+xml' || got === 'application/json' || got.endsWith('+json');
  const text = got.startsWith('text/') || got === 'application/xml' || got.endsWith('+xml');
  if (!markup && !(text && declared !== 'image/svg+xml' && got !== 'image/svg+xml')) return undefined;
  return new DownloadError(`the CDN sent ${got.slice(0, 60)} for an image attachment (${declared ?? item.filename.slice(-20)}): not saved`, {
    retryable: false,
    reason: 'content_type_mismatch',
  });
}

// True when a signed URL's `ex` (hex Unix seconds) is in the past (or within `marginMs`).
export function isExpired(url: string, now = Date.now(), marginMs = 0): boolean {
  try {
    const ex = new URL(url).searchParams.get('ex');
    if (!ex || !/^[0-9a-f]+$/i.test(ex)) return false;
    return Number.parseInt(ex, 16) * 1000 <= now + marginMs;
  } catch {
    return false;
  }
}

function isSignedUrl(url: string): boolean {
  try {
    return new URL(url).searchParams.has('hm');
  } catch {
    return false;
  }
}

function isAttachmentUrl(url: string): boolean {
  try {
    return /\/(ephemeral-)?attachments\//.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

// https Discord CDN hosts, or an origin the user configured (the API/CDN origin of a test server).
export function isAllowed(url: string, allowedOrigins: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (allowedOrigins.includes(parsed.origin)) return true;
  if (parsed.protocol !== 'https:') return false;
  return DISCORD_CDN_HOSTS.includes(parsed.hostname) || /^images-ext-\d+\.discordapp\.net$/.test(parsed.hostname);
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}
