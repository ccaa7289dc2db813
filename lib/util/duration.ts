// Durations on the command line (`--max-wait 15m`, `--timeout 30s`) and in messages ("2 h 0 min"): one parser
// and one formatter, so every flag that takes a time accepts the same forms.

import { UsageError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

// "90s", "15m", "1h", "1.5h", "250ms", or a plain number of milliseconds -> milliseconds (a positive integer).
export function parseDuration(value: number | string, flag: string): number {
  const bad = (): UsageError => new UsageError(`${flag} must be a duration like 90s, 15m, 1h or a number of milliseconds, got "${String(value)}"`);
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
    if (!match) throw bad();
    ms = Number(match[1]) * UNIT_MS[(match[2] ?? 'ms').toLowerCase()]!;
  }
  if (!Number.isFinite(ms) || ms <= 0) throw bad();
  return Math.round(ms);
}

// 1500 -> "1.5 s", 90_000 -> "1 min 30 s", 7_200_000 -> "2 h": for lines people read.
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const totalS = Math.round(ms / 1000);
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  const parts = [h > 0 ? `${h} h` : '', m > 0 ? `${m} min` : '', s > 0 && h === 0 ? `${s} s` : ''].filter(Boolean);
  return parts.join(' ') || '0 s';
}
