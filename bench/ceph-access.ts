// How the S3 benches reach their Ceph RGW (fixtures/s3-ceph.ts): the bench's own client (path-style, checksums only
// where required, as RGW 16 needs) and the environment a spawned dps or baseline loop reads through the AWS chain.

import { S3Client } from '@aws-sdk/client-s3';
import type { CephS3 } from '../fixtures/s3-ceph.js';

export function cephAccess(ceph: CephS3): { client: S3Client; env: Record<string, string> } {
  const client = new S3Client({
    endpoint: ceph.endpoint,
    region: ceph.region,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
  });
  const env = {
    AWS_ACCESS_KEY_ID: ceph.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey,
    AWS_REGION: ceph.region,
    AWS_ENDPOINT_URL_S3: ceph.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  return { client, env };
}
