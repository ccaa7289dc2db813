// The S3 server of the S3 tests: s1's shared Ceph RGW (test/helpers/s3-server.ts) once merged; until then an RGW
// started by hand, named by DPS_S3_TEST_ENDPOINT (same interface, the parts these tests use).

import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';

export interface TestS3 {
  endpoint: string;
  config(overrides?: S3ClientConfig): S3ClientConfig;
  client(overrides?: S3ClientConfig): S3Client;
  env(): Record<string, string>;
  createBucket(name: string): Promise<string>;
  stop(): Promise<void>;
}

export function bucketName(label = 'dps'): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

export async function s3Server(): Promise<TestS3> {
  const endpoint = process.env.DPS_S3_TEST_ENDPOINT;
  if (!endpoint) throw new Error('set DPS_S3_TEST_ENDPOINT');
  const info = { accessKeyId: 'AKTEST', secretAccessKey: 'SKTEST', region: 'us-east-1' };
  const config = (overrides: S3ClientConfig = {}): S3ClientConfig => ({
    endpoint,
    region: info.region,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    ...overrides,
  });
  return {
    endpoint,
    config,
    client: (overrides) => new S3Client(config(overrides)),
    env: () => ({ AWS_ACCESS_KEY_ID: info.accessKeyId, AWS_SECRET_ACCESS_KEY: info.secretAccessKey, AWS_REGION: info.region, AWS_ENDPOINT_URL_S3: endpoint }),
    createBucket: async (name) => {
      const client = new S3Client(config());
      await client.send(new CreateBucketCommand({ Bucket: name }));
      client.destroy();
      return name;
    },
    stop: async () => undefined,
  };
}
