// Which file types a run keeps (--types): parsed once into a set of extensions and media types, and matched
// against an attachment by its `content_type` first and by its file extension only when Discord sent no content
// type (docs/discord-api.md#attachments), so `scan.PNG.exe` sent as image/png is a photo.

// The photo types kept when --types is not given.
export const DEFAULT_TYPES = ['jpg', 'jpeg', 'png', 'gif', 'webp'] as const;

// Lower-case extensions and media types (jpg, image/png, image/*), or 'all' for every file.
export type FileTypes = ReadonlySet<string> | 'all';

// Media types whose subtype is not the usual extension.
const SUBTYPE_EXTENSIONS: Record<string, string[]> = {
  jpeg: ['jpg', 'jpeg', 'jpe', 'jfif'],
  pjpeg: ['jpg', 'jpeg'],
  'svg+xml': ['svg'],
  'x-icon': ['ico'],
  'vnd.microsoft.icon': ['ico'],
  'x-png': ['png'],
  quicktime: ['mov'],
  'x-matroska': ['mkv'],
  mpeg: ['mpg', 'mpeg', 'mp3'],
  'x-msvideo': ['avi'],
  plain: ['txt'],
};

// Parses --types: "jpg,png", "image/*", or "all".
export function parseTypes(value: string | readonly string[]): FileTypes {
  const parts = (Array.isArray(value) ? value : [value])
    .flatMap((v: string) => v.split(','))
    .map((v) => v.trim().toLowerCase().replace(/^\./, ''))
    .filter(Boolean);
  if (parts.includes('all') || parts.includes('*')) return 'all';
  return new Set(parts);
}

// True when a file of this content type and name is one of `types`.
export function matchesType(file: { content_type: string | undefined; filename: string }, types: FileTypes): boolean {
  if (types === 'all') return true;
  const contentType = file.content_type?.split(';')[0]?.trim().toLowerCase();
  if (contentType) {
    const [major, subtype = ''] = contentType.split('/');
    if (types.has(contentType) || (major !== undefined && types.has(`${major}/*`))) return true;
    const extensions = SUBTYPE_EXTENSIONS[subtype] ?? [subtype];
    return extensions.some((ext) => types.has(ext));
  }
  const ext = extensionOf(file.filename);
  return ext !== undefined && types.has(ext);
}

// "photo.JPG" -> "jpg"; undefined for a name without one.
export function extensionOf(filename: string): string | undefined {
  const dot = filename.lastIndexOf('.');
  return dot > 0 && dot < filename.length - 1 ? filename.slice(dot + 1).toLowerCase() : undefined;
}
