/** Small helpers shared by the benchmarks: timing loops and percentiles. */

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** Times `fn` once per sample after warm-up; returns sorted microseconds. */
export async function sampleMicros(
  fn: () => unknown,
  samples: number,
  warmup = Math.min(200, samples),
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = new Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return out.sort((a, b) => a - b);
}

export function summary(sortedMicros: readonly number[]) {
  return {
    medianUs: round(percentile(sortedMicros, 50)),
    p99Us: round(percentile(sortedMicros, 99)),
    samples: sortedMicros.length,
  };
}

export const emit = (figure: Record<string, unknown>): void => console.log(JSON.stringify(figure));
