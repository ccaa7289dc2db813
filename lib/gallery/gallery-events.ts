// The NDJSON events of `dps gallery` and `dps similar` (README "Gallery"); `warning` is the run's shape.

export interface GalleryWarningEvent {
  event: 'warning';
  code: 'thumbnail_failed';
  detail: string;
  path: string;
  sha256: string;
}

// A channel's data file is written.
export interface GalleryChannelEvent {
  event: 'gallery_channel';
  guild_id: string;
  channel_id: string;
  channel_name: string;
  files: number;
  data: string; // its path, relative to the gallery folder
}

export interface GallerySummaryEvent {
  event: 'summary';
  command: 'gallery';
  channels: number;
  channels_unchanged: number; // channels whose data file was already up to date (not rewritten, no gallery_channel)
  channels_removed: number; // channels the last index listed that the state no longer holds (their data files removed)
  files: number;
  thumbnails_made: number;
  thumbnails_kept: number;
  placeholders: number;
  warnings: number;
  gallery: string; // index.html's absolute path
  elapsed_ms: number;
  exit_code: number;
  // --out s3:// (issue 26): the site's files uploaded under prefix/gallery/ (those changed since the last upload);
  // `gallery` is then s3://bucket/prefix/gallery/index.html.
  uploaded?: number;
  // --out s3://: the site's objects deleted (files the site uploaded earlier and no longer has).
  deleted?: number;
}

export interface SimilarFile {
  attachment_id: string;
  path: string;
  sha256: string;
}

export interface SimilarEvent {
  event: 'similar';
  files: SimilarFile[];
  distance: number;
}

export interface SimilarSummaryEvent {
  event: 'summary';
  command: 'similar';
  files: number;
  decoded: number;
  groups: number;
  distance: number;
  warnings: number;
  elapsed_ms: number;
  exit_code: number;
}

export type GalleryEvent = GalleryWarningEvent | GalleryChannelEvent | GallerySummaryEvent | SimilarEvent | SimilarSummaryEvent;
