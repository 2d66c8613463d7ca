/** The decision point for a typical agreement: median µs per decide() (goal: under 20 µs). */
import { decide } from "../policies/decide.ts";
import { typicalState } from "./fixtures.ts";
import { emit, sampleMicros, summary } from "./stats.ts";

export async function run(): Promise<void> {
  const { request, state } = typicalState();
  const now = new Date();
  let permits = 0;
  // Batches of 100 calls per sample: one call is below the timer's resolution.
  const batch = 100;
  const samples = await sampleMicros(() => {
    for (let i = 0; i < batch; i++)
      if (decide(request, state, now).decision === "permit") permits++;
  }, 2000);
  const perCall = samples.map((s) => s / batch);
  emit({ bench: "decide", ...summary(perCall), goalUs: 20, permits });
}
