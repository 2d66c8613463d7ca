/**
 * The streaming guard at 100 MiB and 1 GiB of NDJSON, each in a fresh process
 * (see guard-stream.ts): throughput against the baseline, and peak RSS growth
 * flat in size. Named only (`npm run bench -- guard-stream-1gib`): about a
 * minute on two cores.
 */
import { runSizes } from "./guard-stream.ts";

export async function run(): Promise<void> {
  runSizes([100, 1024]);
}
