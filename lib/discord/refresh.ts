// Fresh signed URLs for expired attachment links: `POST /attachments/refresh-urls` in batches of at most
// 50 (undocumented but widely used), falling back to re-fetching the message, whose payload is always
// freshly signed (docs/discord-api.md#refreshing-links). The message re-fetch also tells a deleted file apart (`gone`).

import type { APIMessage } from 'discord-api-types/v10';
import type { DiscordClient } from './client.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { mediaOf } from './media.js';
import { isDiscordId } from '../util/snowflake.js';

export const REFRESH_BATCH = 50;

interface RefreshRequest {
  url: string;
  channelId: string;
  messageId: string;
  attachmentId: string;
  resolve: (renewal: Renewal) => void;
}

// A link's renewal: a fresh URL; or `gone` (why) when Discord says the message or channel no longer exists, or
// the message no longer holds the file; or neither when it could not be told (an error, no access).
export interface Renewal {
  url?: string | undefined;
  gone?: string | undefined;
}

type RefreshItem = { url: string; channelId: string; messageId: string; attachmentId: string };

interface RefreshResponse {
  refreshed_urls?: Array<{ original?: string; refreshed?: string }>;
}

// Collects refresh requests for a few milliseconds and sends them as one batch.
export class UrlRefresher {
  private pending: RefreshRequest[] = [];
  private scheduled = false; // a flush is due after delayMs
  refreshed = 0;

  constructor(
    private readonly client: DiscordClient,
    private readonly signal?: AbortSignal,
    private readonly delayMs = 25,
    private readonly clock: Clock = systemClock,
  ) {}

  // A fresh URL for one attachment, or undefined when Discord no longer has it.
  refresh(item: RefreshItem): Promise<string | undefined> {
    return this.renew(item).then((renewal) => renewal.url);
  }

  // The same, saying whether the file is gone when no fresh URL can be had (refresh-urls, then the message).
  renew(item: RefreshItem): Promise<Renewal> {
    return new Promise((resolve) => {
      this.pending.push({ ...item, resolve });
      if (this.pending.length >= REFRESH_BATCH) this.flush();
      else this.schedule(this.delayMs);
    });
  }

  // Re-fetches the item's message: a freshly signed URL, or `gone` when Discord answers Unknown Message or
  // Unknown Channel, or the message no longer holds the file. Used when a live link is refused (the file, not
  // the signature, is missing: refresh-urls would sign a URL for a deleted file all the same).
  async locate(item: Omit<RefreshItem, 'url'>): Promise<Renewal> {
    if (!isDiscordId(item.messageId)) return {}; // never a request path built from an id Discord did not send
    let message: APIMessage;
    try {
      message = await this.client.get<APIMessage>(`/channels/${item.channelId}/messages/${item.messageId}`, {
        signal: this.signal,
        what: `message ${item.messageId}`,
      });
    } catch (error) {
      if (this.signal?.aborted) throw error;
      return { gone: goneReason(error, item.messageId) };
    }
    const url = mediaOf(message, { embeds: true, stickers: true }).find((m) => m.id === item.attachmentId)?.url;
    if (url) this.refreshed++;
    return url ? { url } : { gone: `message ${item.messageId} no longer holds this file` };
  }

  private schedule(ms: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    void this.clock.sleep(ms).then(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  // Sends the oldest batch now (a flush that finds nothing pending does nothing).
  private flush(): void {
    const batch = this.pending.splice(0, REFRESH_BATCH);
    if (this.pending.length > 0) this.schedule(0);
    if (batch.length > 0) void this.send(batch);
  }

  private async send(batch: RefreshRequest[]): Promise<void> {
    const fresh = new Map<string, string>();
    const urls = batch.filter((r) => r.url !== '').map((r) => r.url); // no URL to refresh: the message is re-fetched
    try {
      if (urls.length === 0) throw new Error('nothing to refresh');
      const response = await this.client.post<RefreshResponse>('/attachments/refresh-urls', {
        body: { attachment_urls: urls },
        signal: this.signal,
        what: 'attachment URL refresh',
      });
      for (const entry of response?.refreshed_urls ?? []) {
        if (typeof entry?.original === 'string' && typeof entry.refreshed === 'string') fresh.set(entry.original, entry.refreshed);
      }
    } catch {
      // fall back to re-fetching each message below
    }
    for (const request of batch) {
      const url = fresh.get(request.url);
      if (url) this.refreshed++;
      request.resolve(url ? { url } : await this.locate(request).catch(() => ({})));
    }
  }
}

// Discord's answer that a message or its channel no longer exists (404 with code 10008 / 10003), as a reason.
function goneReason(error: unknown, messageId: string): string | undefined {
  const cause = (error as { cause?: { code?: unknown; status?: unknown } } | undefined)?.cause;
  if (cause?.status !== 404) return undefined;
  if (cause.code === 10008) return `message ${messageId} was deleted (Unknown Message)`;
  if (cause.code === 10003) return 'the channel was deleted (Unknown Channel)';
  return undefined;
}
