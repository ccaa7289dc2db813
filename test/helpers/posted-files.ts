// The files of a channel as the (fake) Discord API serves them, read through its HTTP API like any client: what
// the selecting flags (--author, --min-size, --spoilers, ...) are judged against, independent of the fake's model.

import type { FakeDiscord } from '../../fixtures/fake-discord.js';

export interface PostedFile {
  message_id: string;
  attachment_id: string;
  author_id: string;
  bot: boolean;
  size: number;
  width: number | undefined;
  height: number | undefined;
  spoiler: boolean;
}

interface ApiAttachment {
  id: string;
  filename: string;
  size: number;
  width?: number | null;
  height?: number | null;
  flags?: number;
}
interface ApiMessage {
  id: string;
  author: { id: string; bot?: boolean };
  attachments: ApiAttachment[];
}

// Every attachment of every message of a channel, oldest first (GET /channels/{id}/messages, 100 at a time).
export async function postedFiles(fake: FakeDiscord, channelId: string): Promise<PostedFile[]> {
  const files: PostedFile[] = [];
  let before: string | undefined;
  for (;;) {
    const url = `${fake.api}/channels/${channelId}/messages?limit=100${before === undefined ? '' : `&before=${before}`}`;
    const response = await fetch(url, { headers: { authorization: `Bot ${fake.token}`, 'user-agent': 'dps-tests' } });
    if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
    const page = (await response.json()) as ApiMessage[];
    if (page.length === 0) break;
    for (const message of page) {
      for (const a of message.attachments) {
        files.push({
          message_id: message.id,
          attachment_id: a.id,
          author_id: message.author.id,
          bot: message.author.bot === true,
          size: a.size,
          width: a.width ?? undefined,
          height: a.height ?? undefined,
          spoiler: ((a.flags ?? 0) & 8) !== 0 || a.filename.startsWith('SPOILER_'),
        });
      }
    }
    before = page[page.length - 1]?.id;
  }
  return files.sort((a, b) => (BigInt(a.attachment_id) < BigInt(b.attachment_id) ? -1 : 1));
}
