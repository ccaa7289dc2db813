// A failed attachment record of channel c1 for store tests; `over` sets any field.

import type { AttachmentRecord } from '../../lib/types.js';

export function record(id: string, over: Partial<AttachmentRecord> = {}): AttachmentRecord {
  return {
    attachment_id: id,
    guild_id: 'g1',
    channel_id: 'c1',
    message_id: '100',
    filename: `${id}.png`,
    content_type: 'image/png',
    timestamp: '2024-01-01T00:00:00.000Z',
    source: 'attachment',
    status: 'failed',
    updated_at: '2024-01-01T00:00:00.000Z',
    ...over,
  };
}
