// lib/s3/destination.ts: `s3://bucket/prefix` parsed (bad names refused with the value typed), rendered paths to
// keys and record urls, and the sweep's prefix (with its slash: "x/" never matches "x-sibling/").

import t from 'tap';
import { keyOfPath, keyOfUrl, listPrefix, objectUrl, parseS3Url, virtualRoot } from '../../lib/s3/destination.js';

t.test('parseS3Url', async (t) => {
  t.same(parseS3Url('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
  t.same(parseS3Url('s3://my-bucket/'), { bucket: 'my-bucket', prefix: '' });
  t.same(parseS3Url('s3://my.bucket/a/b/'), { bucket: 'my.bucket', prefix: 'a/b' });
  t.same(parseS3Url('s3://b12/фото 📷'), { bucket: 'b12', prefix: 'фото 📷' });
  for (const bad of ['s3://UPPER/x', 's3://a/x', 's3://-abc/x', 's3://a..b/x', 's3://ok-bucket/a//b', 's3://ok-bucket/./b', 's3://ok-bucket/a/../b']) {
    t.throws(() => parseS3Url(bad), { code: 'DPS_USAGE', message: new RegExp(bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }, `${bad} refused, shown`);
  }
});

t.test('paths, keys and urls', async (t) => {
  t.equal(virtualRoot({ prefix: '' }), '/');
  t.equal(virtualRoot({ prefix: 'a/b' }), '/a/b');
  t.equal(keyOfPath('/a/b/Server_1/c.png'), 'a/b/Server_1/c.png');
  t.equal(objectUrl('bk', 'a/c.png'), 's3://bk/a/c.png');
  t.equal(keyOfUrl('bk', 's3://bk/a/c.png'), 'a/c.png');
  t.equal(keyOfUrl('bk', 's3://other/a/c.png'), undefined, 'another bucket');
  t.equal(keyOfUrl('bk', '/home/me/a/c.png'), undefined, 'a local path');
  t.equal(listPrefix({ prefix: 'x' }), 'x/', 'the prefix with its slash');
  t.equal(listPrefix({ prefix: '' }), undefined, 'the whole bucket');
});
