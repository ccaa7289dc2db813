// Object storage (issue 26): what a request's SigV4 signature says of its body (x-amz-content-sha256), set by dps
// instead of the SDK, which otherwise hashes every body it sends once more. A single PUT carries the sha256
// computed while the body streamed in (a service that checks it, as AWS S3 does, refuses a body that does not
// match); a multipart part is sent as UNSIGNED-PAYLOAD, which S3 accepts: its bytes are checked by the object's
// ETag (the md5s computed on the way) or, where the service verifies checksums, by the part's own sha256 checksum.

import type { PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

// Sets the command's payload hash to `hash` (a hex sha256 of its body, or UNSIGNED_PAYLOAD); the signer then uses it.
export function signPayloadAs(command: PutObjectCommand | UploadPartCommand, hash: string): void {
  // One build-step middleware for either command: the step sees the HTTP request, not the command's own types.
  (command.middlewareStack as PutObjectCommand['middlewareStack']).add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) request.headers['x-amz-content-sha256'] = hash;
      return await next(args);
    },
    { step: 'build', name: 'dpsPayloadHash' },
  );
}
