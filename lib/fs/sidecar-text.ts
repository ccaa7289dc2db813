// The end of a sidecar's JSON (`<file>.json`, --write-metadata): what only the disk thread knows when it writes a
// file's sidecar in the same request as the file (disk-thread-worker.ts), its final path, sha256 and size, after
// the fields the main thread knew before the download (lib/stages/metadata-fields.ts sidecarHead). The metadata
// stage ends its own sidecars here too, so a sidecar's bytes are the same whichever thread wrote it.

// `head`: the sidecar's other fields as JSON.stringify(fields, null, 2) gives them, without the closing "\n}".
export function closeSidecar(head: string, path: string, sha256: string, bytes: number): string {
  return `${head},\n  "path": ${JSON.stringify(path)},\n  "sha256": ${JSON.stringify(sha256)},\n  "bytes": ${bytes}\n}\n`;
}
