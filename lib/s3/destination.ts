// Object storage (issue 26): `--out s3://bucket/prefix` parsed once, and the mapping between the local layout's
// paths and object keys. Keys below the prefix are exactly the local layout: the stages render an item's path
// under a virtual root (`/` + prefix) with the same sanitised names, and the key is that path without its `/`.

import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { PartPool } from './part-pool.js';
import { UsageError } from '../errors.js';

// Where a run's objects go, and how the client reaches the service (credentials come from the AWS chain only).
export interface S3Settings {
  bucket: string;
  prefix: string; // no leading or trailing `/`; '' for the bucket's root
  endpoint?: string | undefined; // --s3-endpoint, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (read by bin)
  region: string; // --s3-region, AWS_REGION or AWS_DEFAULT_REGION (read by bin) [us-east-1]
  forcePathStyle: boolean; // --s3-force-path-style
  copyDuplicates: boolean; // --s3-copy-duplicates: a duplicate gets its own object (server-side copy)
  partSize: number; // bytes per multipart part held in memory (at least 5 MiB, S3's minimum)
  queueSize: number; // parts of one file uploaded at once
  partBuffers?: number | undefined; // part buffers all uploads share (part-pool.ts) [DEFAULT_PART_BUFFERS]
  // Set by the preflight (preflight.ts): the service verifies x-amz-checksum-sha256, so every PUT (object or part)
  // carries its sha256 and the server refuses bytes that do not match it.
  checksums?: boolean | undefined;
  // Set by the preflight: the service checks each request's signed payload hash (x-amz-content-sha256), so every
  // PUT and part is signed with the sha256 of its bytes (computed on the way) and the ETag need not be checked.
  signedPayloads?: boolean | undefined;
  // Set by the preflight: the service refuses a PUT with If-None-Match: * where an object is, so an upload that
  // is one PUT is sent without looking at its key first (a refusal moves its claim on and sends the bytes again).
  conditionalWrites?: boolean | undefined;
}

// S3's smallest multipart part (all parts but the last).
export const MIN_PART_SIZE = 5 * 1024 * 1024;

// True when --out names object storage.
export function isS3Url(out: string): boolean {
  return /^s3:\/\//i.test(out);
}

// `s3://bucket/prefix/` -> bucket and prefix, refused (exit 2, the value typed) when the bucket name is not one
// S3 accepts or the prefix has empty, `.` or `..` segments (the key layout would not be the local one).
export function parseS3Url(out: string): { bucket: string; prefix: string } {
  const rest = out.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/\/+$/, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
    throw new UsageError(`--out ${out}: "${bucket}" is not an S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')`);
  }
  if (prefix !== '' && prefix.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new UsageError(`--out ${out}: the prefix may not have empty, "." or ".." segments`);
  }
  return { bucket, prefix };
}

// The virtual root the stages render paths under: `/` + prefix.
export function virtualRoot(settings: Pick<S3Settings, 'prefix'>): string {
  return `/${settings.prefix}`;
}

// A rendered path (under virtualRoot) -> its object key.
export function keyOfPath(rendered: string): string {
  return path.posix.normalize(rendered).replace(/^\/+/, '');
}

// The record's path of an object: `s3://bucket/key` (what `dps manifest` prints).
export function objectUrl(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

// `s3://bucket/key` -> its key in `bucket`, or undefined for a path elsewhere (a local file, another bucket).
export function keyOfUrl(bucket: string, url: string): string | undefined {
  const head = `s3://${bucket}/`;
  return url.startsWith(head) ? url.slice(head.length) : undefined;
}

// The prefix as ListMultipartUploads' Prefix: our keys only (`prefix/`), or the whole bucket for no prefix.
export function listPrefix(settings: Pick<S3Settings, 'prefix'>): string | undefined {
  return settings.prefix === '' ? undefined : `${settings.prefix}/`;
}

// A run's object storage: its settings, the one client (lib/s3/client.ts), open for the run, and the part
// buffers its uploads share (part-pool.ts; without it each upload has its own).
export interface S3Target {
  client: S3Client;
  settings: S3Settings;
  parts?: PartPool | undefined;
}
