/** README's Performance table from a recorded run (bench/table.ts). */
import { describe, expect, it } from "vitest";
import { lastRun, table } from "../../../bench/table.ts";

const line = (f: Record<string, unknown>) => JSON.stringify(f);

describe("the performance table", () => {
  it("takes the last recorded run only, and puts each figure next to its goal", () => {
    const jsonl = [
      line({ bench: "machine", at: "old" }),
      line({ bench: "decide", medianUs: 50 }),
      line({ bench: "machine", at: "new", cpus: 2, cpuModel: "X", node: "v20" }),
      line({ bench: "decide", medianUs: 1.25 }),
      line({ bench: "exchange.baseline.parseAndPrint8KB", medianUs: 60 }),
      line({
        bench: "exchange.policyWork",
        token: "repeat",
        medianUs: 90,
        p99Us: 400,
        ratioToParsePrint: 1.5,
      }),
      "",
    ].join("\n");
    const run = lastRun(jsonl);
    expect(run.map((f) => f.bench)).toEqual([
      "machine",
      "decide",
      "exchange.baseline.parseAndPrint8KB",
      "exchange.policyWork",
    ]);
    const text = table(run);
    expect(text).toContain("recorded at new");
    expect(text).toContain("| 1.25 µs | < 20 µs ✓ |");
    expect(text).toContain("90 µs = 1.50 × parse+print (60 µs) | ≤ 1.33 × parse+print ✗ |");
    expect(text).toContain("p99 400 µs = 4.4 × median | p99 ≤ 3 × median ✗ |");
    expect(text).toMatch(/Lambda bundles .* \| not in this run \| < 1 MB \|/);
  });
});
