// Shared scenario constants: the size mix of the downloads scenario (used by the fake process and the scenarios
// that check byte totals) and the fake's rate-limit settings for throughput runs.

// 5,000 images of mixed sizes: 95% 10-400 KB, 5% 1-8 MB (about 2 GB per 5,000), one per message, no gaps.
export function mixedSize(i: number): number {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  const u = (h % 100_000) / 100_000;
  if (i % 20 === 7) return 1_000_000 + Math.floor(u * 7_000_000);
  return 10_000 + Math.floor(u * 390_000);
}

// "Rate limits off" for the throughput scenarios: nothing enforced, and headers that do not claim a 50/s bucket
// (the fake's default bucket would make any honest client stop at 50 requests/s). dps also gets
// --global-rate-limit 100000, since @discordjs/rest enforces Discord's 50/s global limit on its own.
export const UNLIMITED = { off: true, perChannel: { limit: 1_000_000, windowMs: 1000 }, global: null };

// The power-law server: 200 channels, three of 50,000-52,000 messages and a Pareto-like tail (the k-th of the
// rest 6,000 / k^1.4, at least 20: 192 channels under 500), each divided by `divisor` (quick runs), placed in the
// server's channel order by a fixed permutation so the largest are neither first nor last. One count per channel,
// in the server's order.
export function powerLawMessages(divisor = 1): number[] {
  const channels = 200;
  const big = [52_000, 51_000, 50_000];
  const byRank = Array.from({ length: channels }, (_, r) =>
    Math.max(20, Math.floor((r < big.length ? big[r]! : 6_000 / (r - big.length + 1) ** 1.4) / divisor)),
  );
  const byPosition = Array<number>(channels).fill(0);
  for (const [rank, count] of byRank.entries()) byPosition[(rank * 73 + 111) % channels] = count; // 73 is prime to 200
  return byPosition;
}
