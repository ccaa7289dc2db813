// lib/discord/download.ts contentTypeMismatch: an image attachment answered with HTML, JSON or text is refused.

import t from 'tap';
import { contentTypeMismatch } from '../../lib/discord/download.js';

t.test('HTML, JSON or text for an image is a content_type_mismatch; images and unknown types pass', async (t) => {
  const png = { content_type: 'image/png', filename: 'a.png' };
  for (const got of ['text/html; charset=utf-8', 'application/json', 'text/plain', 'application/problem+json', 'application/xhtml+xml', 'text/xml']) {
    const error = contentTypeMismatch(png, got);
    t.equal((error as { reason?: string } | undefined)?.reason, 'content_type_mismatch', got);
    t.equal(error?.retryable, false, `${got}: not retried in this run`);
  }
  for (const got of [undefined, 'image/png', 'image/jpeg', 'application/octet-stream', 'binary/octet-stream', 'image/svg+xml']) t.equal(contentTypeMismatch(png, got), undefined, String(got));
  t.ok(contentTypeMismatch({ content_type: undefined, filename: 'photo.JPG' }, 'text/html'), 'no declared type: judged by the extension');
  t.equal(contentTypeMismatch({ content_type: undefined, filename: 'notes.txt' }, 'text/plain'), undefined, 'not an image: not judged');
  t.equal(contentTypeMismatch({ content_type: 'application/pdf', filename: 'a.pdf' }, 'text/html'), undefined, 'only images are judged');
  t.equal(contentTypeMismatch({ content_type: 'image/svg+xml', filename: 'a.svg' }, 'text/xml'), undefined, 'an SVG may come as XML');
  t.ok(contentTypeMismatch({ content_type: 'image/svg+xml', filename: 'a.svg' }, 'text/html'), 'but not as HTML');
});
