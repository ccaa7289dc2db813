// Fresh signed URLs for expired attachment links: `POST /attachments/refresh-urls` in batches of at most
// 50 (undocumented but widely used), falling back to re-fetching the message, whose payload is always
// freshly signed (discord-api.md §4, trap 9).

import type { APIMessage } from 'discord-api-types/v10';
import type { DiscordClient } from './client.js';
import { mediaOf } from './media.js';
import { isDiscordId } from './snowflake.js';

export const REFRESH_BATCH = 50;

interface RefreshRequest {
  url: string;
  channelId: string;
  messageId: string;
  attachmentId: string;
  resolve: (url: string | undefined) => void;
}

interface RefreshResponse {
  refreshed_urls?: Array<{ original?: string; refreshed?: string }>;
}

// Collects refresh requests for a few milliseconds and sends them as one batch.
export class UrlRefresher {
  private pending: RefreshRequest[] = [];
  private timer: NodeJS.Timeout | undefined;
  refreshed = 0;

  constructor(
    private readonly client: DiscordClient,
    private readonly signal?: AbortSignal,
    private readonly delayMs = 25,
  ) {}

  // A fresh URL for one attachment, or undefined when Discord no longer has it.
  refresh(item: { url: string; channelId: string; messageId: string; attachmentId: string }): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.pending.push({ ...item, resolve });
      if (this.pending.length >= REFRESH_BATCH) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.delayMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0, REFRESH_BATCH);
    if (this.pending.length > 0) this.timer = setTimeout(() => this.flush(), 0);
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
      const url = fresh.get(request.url) ?? (await this.fromMessage(request).catch(() => undefined));
      if (url) this.refreshed++;
      request.resolve(url);
    }
  }

  private async fromMessage(request: RefreshRequest): Promise<string | undefined> {
    if (!isDiscordId(request.messageId)) return undefined;
    const message = await this.client.get<APIMessage>(`/channels/${request.channelId}/messages/${request.messageId}`, {
      signal: this.signal,
      what: `message ${request.messageId}`,
    });
    return mediaOf(message, { embeds: true }).find((m) => m.id === request.attachmentId)?.url;
  }
}
