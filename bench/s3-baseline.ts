// The s3 scenario's bare loop (issue 26), as its own process:
//   node dist/bench/s3-baseline.js <api> <token> <channel> <bucket> <prefix> <concurrency>
// lists the channel's attachments (untimed), then streams each file from the fake CDN straight into
// @aws-sdk/lib-storage's Upload (its default part size and queue), `concurrency` files at once: no hash, no state,
// no dedupe. The S3 server comes from the standard environment (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION) with the settings the tests' RGW needs (path-style, checksums only where
// required). Prints one JSON line: {files, bytes, ms, mbPerSecond}.

import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Agent } from 'undici';
import { channelFiles, fetchEach } from './raw-channel.js';
import type { RawTarget } from './raw-channel.js';

const [api, token, channel, bucket, prefix, concurrencyArg] = process.argv.slice(2);
if (concurrencyArg === undefined) {
  process.stderr.write('usage: s3-baseline.js <api> <token> <channel> <bucket> <prefix> <concurrency>\n');
  process.exit(2);
}
const concurrency = Number(concurrencyArg);
const headers = { authorization: `Bot ${token}`, 'user-agent': 'DiscordBot (https://example.invalid, 0) bench-s3-baseline' };
const agent = new Agent({ connections: Math.max(4, concurrency) });
const client = new S3Client({ forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
const target: RawTarget = { api: api!, channel: channel!, headers, agent };

// The channel's files, oldest first (untimed).
const files = await channelFiles(target);

const started = performance.now();
const bytes = await fetchEach(target, files, concurrency, async (file, body) => {
  await new Upload({ client, params: { Bucket: bucket, Key: `${prefix}/${file.name}`, Body: body, ContentLength: file.size } }).done();
});
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, ms, mbPerSecond: bytes / 1e6 / (ms / 1000) })}\n`);
client.destroy();
await agent.close();
