// What Discord sends is checked where it enters (history pages here, attachments in media.ts, CDN bodies in
// download.ts): a page that is not a JSON array of message objects with valid ids is an invalid response. It is
// retried like a 5xx (DiscordClient's bounded backoff) and then reported as a failure; it is never taken for an
// empty, finished channel, and an id such as 99999999999999999999999999999 can never become a cursor.

import { isDiscordId } from '../util/snowflake.js';

// A 2xx response whose body is not what the route returns. Not a DpsError: DiscordClient retries it.
export class InvalidResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidResponseError';
  }
}

// The body of a message-history page, or an InvalidResponseError saying what is wrong with it.
export function historyPage(contentType: string | undefined, text: string, what: string): unknown[] {
  if (!contentType?.toLowerCase().startsWith('application/json')) {
    throw new InvalidResponseError(`invalid response for ${what}: ${contentType ? `"${contentType.slice(0, 60)}"` : 'no content type'} instead of JSON`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidResponseError(`invalid response for ${what}: the JSON body is cut off or malformed`);
  }
  if (!Array.isArray(body))
    throw new InvalidResponseError(`invalid response for ${what}: a JSON ${body === null ? 'null' : typeof body} instead of an array of messages`);
  for (const [index, message] of body.entries()) {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      throw new InvalidResponseError(`invalid response for ${what}: entry ${index} is not a message object`);
    }
    const id: unknown = (message as { id?: unknown }).id;
    if (!isDiscordId(id)) {
      throw new InvalidResponseError(`invalid response for ${what}: message id ${JSON.stringify(id)?.slice(0, 40) ?? 'missing'} is not a snowflake`);
    }
  }
  return body;
}
