// Object storage (issue 26): the one S3 client of a run. Credentials come from the SDK's default chain only
// (environment, shared config and credentials files with AWS_PROFILE, container and instance roles): dps has no
// flag for them, never prints nor stores them. Checksums are only sent where an operation requires them
// (the default aws-chunked trailers are refused by some S3-compatible servers, Ceph RGW among them).

import { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from './destination.js';

// How many attempts the SDK makes per request (its standard retry, with backoff, for throttling and 5xx).
const MAX_ATTEMPTS = 5;

export function createS3Client(settings: Pick<S3Settings, 'endpoint' | 'region' | 'forcePathStyle'>): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: MAX_ATTEMPTS,
  });
}
