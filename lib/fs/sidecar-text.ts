// The end of a sidecar's text (`<file>.json`, --write-metadata), printed field by field exactly as
// JSON.stringify(fields, null, 2) prints the last fields: what only the disk thread knows when it writes a file's
// sidecar in the same request as the file (disk-thread-worker.ts), its final path, sha256 and size, after the
// fields the main thread knew before the download (lib/stages/metadata-fields.ts sidecarHead). The metadata stage
// ends its own sidecars here too, so a sidecar's bytes are the same whichever thread wrote it.

// One field as JSON.stringify(fields, null, 2) prints it among the top level's, with the ",\n  " before it; ''
// for a value JSON leaves out (undefined, a function, a symbol). `key` needs no escape (a field name of ours).
// A nested object or array is printed one level deeper: every line break in its JSON is structural (a string's
// own line breaks are escaped), so each gets two more spaces.
function jsonField(key: string, value: unknown): string {
  const json = (typeof value === 'object' && value !== null ? JSON.stringify(value, null, 2)?.replaceAll('\n', '\n  ') : JSON.stringify(value)) as
    | string
    | undefined;
  return json === undefined ? '' : `,\n  "${key}": ${json}`;
}

// `head`: the sidecar's other fields as JSON.stringify(fields, null, 2) gives them, without the closing "\n}";
// `duplicateOf`: the first copy's path, for a duplicate's sidecar (the metadata stage's).
export function closeSidecar(head: string, path: string, sha256: string, bytes: number, duplicateOf?: string): string {
  return `${head}${jsonField('path', path)}${jsonField('sha256', sha256)}${jsonField('bytes', bytes)}${jsonField('duplicate_of', duplicateOf)}\n}\n`;
}
