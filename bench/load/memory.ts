/**
 * Heap sampling for the soak: a full GC before each sample when one can be
 * forced (`node --expose-gc`, or V8's flag set at run time), then
 * process.memoryUsage().heapUsed of this thread, where the gateway runs.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { HeapSample } from "./soak-checks.ts";

export function forcedGc(): { gc: (() => void) | undefined; how: string } {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return { gc: exposed, how: "--expose-gc" };
  try {
    // Exposes gc to contexts made after the flag is set.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    if (typeof gc === "function") return { gc: gc as () => void, how: "v8 flag at run time" };
  } catch {
    // not available: samples are taken without a forced GC
  }
  return { gc: undefined, how: "none (samples without forced GC)" };
}

export function sampleHeap(
  origin: number,
  everyMs: number,
  fromMs: number,
): { stop(): HeapSample[] } {
  const { gc } = forcedGc();
  const samples: HeapSample[] = [];
  const timer = setInterval(() => {
    const t = performance.now() - origin;
    if (t < fromMs) return;
    gc?.();
    let code = 0;
    for (const s of getHeapSpaceStatistics())
      if (s.space_name.startsWith("code")) code += s.space_used_size;
    samples.push({ t: t / 1000, heapUsed: process.memoryUsage().heapUsed, codeUsed: code });
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}
