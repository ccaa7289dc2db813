// Object storage (issue 26): a dry run's (simulate.ts) steps for --out s3://bucket/prefix. The names a real run
// would claim, as `s3://bucket/key` (claimed in the dry run's copy of the state only), and the object an
// interrupted run completed that a real run would adopt (a HEAD: a dry run only reads the bucket).

import type { S3Target } from '../s3/destination.js';
import { keyOfUrl } from '../s3/destination.js';
import { objectSize } from '../s3/objects.js';
import type { Store } from '../store/store.js';
import type { MediaItem } from '../types.js';
import type { Claim } from './claim-path.js';
import { candidateUrl, claimKey } from './s3-save.js';

export interface DryS3Options {
  store: Store; // the dry run's copy of the state
  namePattern: string;
  pathPattern?: string | undefined;
  s3: S3Target;
  signal?: AbortSignal | undefined;
}

// The key a real run would claim for the item (from candidate `from`, claimed by `owner`).
export function dryClaimKey(item: MediaItem, options: DryS3Options, from = 0, owner = item.attachment_id): Promise<Claim> {
  return claimKey(item, options, from, owner);
}

// adoptS3's conditions without the hash: an object of the declared size at a key the state holds this
// attachment's claim of. Its url, claimed in the dry run's copy, or undefined.
export async function wouldAdoptS3(item: MediaItem, options: DryS3Options): Promise<string | undefined> {
  if (item.size === undefined || item.size <= 0) return undefined;
  const ref = { client: options.s3.client, bucket: options.s3.settings.bucket, signal: options.signal };
  for (const url of new Set([candidateUrl(item, options, 1), candidateUrl(item, options, 0)])) {
    if ((await options.store.storedClaim(url)) !== item.attachment_id) continue;
    const key = keyOfUrl(options.s3.settings.bucket, url);
    if (key === undefined || (await objectSize(ref, key)) !== item.size) continue;
    if (await options.store.claimPath(url, item.attachment_id)) return url;
  }
  return undefined;
}
