/**
 * A closed-loop load generator: `concurrency` callers, each sending its next
 * request as soon as the previous answer was read to the end, over one
 * keep-alive node:http Agent. Requests started during the warm-up are not
 * recorded; requests started in the measured window are, each with its
 * latency (request written → last byte read).
 */
import http from "node:http";

export interface LoadSpec {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface LoadResult {
  readonly requests: number;
  /** Transport failures (no HTTP answer). */
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly elapsedMs: number;
  /** Latencies of the recorded requests in microseconds, sorted. */
  readonly latenciesUs: Float64Array;
  readonly bytes: number;
  /** Every request answered, warm-up included, and how many of them 200. */
  readonly answeredAll: number;
  readonly okAll: number;
}

export async function closedLoop(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: spec.concurrency,
    maxFreeSockets: spec.concurrency,
    timeout: 60_000,
  });
  const options: http.RequestOptions = {
    agent,
    host: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    method: "GET",
    headers: { ...spec.headers },
  };
  const one = () =>
    new Promise<{ status: number; bytes: number }>((resolve, reject) => {
      const req = http.request(options, (res) => {
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.byteLength;
        });
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
      });
      req.on("error", reject);
      req.end();
    });

  const start = performance.now();
  const measureFrom = start + spec.warmupMs;
  const until = measureFrom + spec.durationMs;
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  let errors = 0;
  let bytes = 0;
  let answeredAll = 0;
  let okAll = 0;
  const statuses: Record<string, number> = {};
  const caller = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= until) return;
      let status = 0;
      try {
        const r = await one();
        status = r.status;
        answeredAll++;
        if (status === 200) okAll++;
        if (t0 >= measureFrom) bytes += r.bytes;
      } catch {
        if (t0 >= measureFrom) errors++;
        continue;
      }
      if (t0 < measureFrom) continue;
      const us = (performance.now() - t0) * 1000;
      if (n === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[n++] = us;
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, caller));
  const elapsedMs = performance.now() - measureFrom;
  agent.destroy();
  return {
    requests: n,
    errors,
    statuses,
    elapsedMs,
    latenciesUs: latencies.slice(0, n).sort(),
    bytes,
    answeredAll,
    okAll,
  };
}
