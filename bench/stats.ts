/** Timing and summary helpers. Every number is a sample list; reports use the median and the spread. */
export type Sample = { seconds: number; bytes?: number | undefined };

export type Series = { id: string; label: string; samples: Sample[] };

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Spread as (max - min) / median: how far apart the rounds were. */
export function spread(values: number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return m > 0 ? (Math.max(...values) - Math.min(...values)) / m : 0;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, value };
}

/**
 * Run the contenders of one comparison `rounds` times, interleaved and rotated (round 1: A B C,
 * round 2: B C A, …), so a slow minute on a shared machine falls on each of them alike.
 */
export async function interleave(
  rounds: number,
  contenders: { id: string; label: string; run: (round: number) => Promise<Sample> }[],
  before?: (round: number) => Promise<void>,
): Promise<Series[]> {
  const series = contenders.map((c) => ({ id: c.id, label: c.label, samples: [] as Sample[] }));
  for (let round = 0; round < rounds; round++) {
    await before?.(round);
    for (let k = 0; k < contenders.length; k++) {
      const index = (k + round) % contenders.length;
      const contender = contenders[index]!;
      process.stderr.write(`[bench]   round ${round + 1}/${rounds}: ${contender.label}\n`);
      series[index]!.samples.push(await contender.run(round));
    }
  }
  return series;
}

export function secondsOf(series: Series): number[] {
  return series.samples.map((s) => s.seconds);
}

export function bytesOf(series: Series): number[] {
  return series.samples.flatMap((s) => (s.bytes === undefined ? [] : [s.bytes]));
}
