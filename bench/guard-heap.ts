/**
 * Where the guard allocates: a sampling heap profile over many guard runs of
 * one body, self bytes per call by function and line (top 25).
 *
 *   npx tsx bench/guard-heap.ts [exchange|suite8] [calls]
 */
import { Session } from "node:inspector/promises";
import { DEMO_DATASET, DEMO_READ_AGREEMENT } from "../policies/demo/ecosystem.ts";
import { compileGuardPlan, guardPayload } from "../policies/guard/index.ts";
import { compileMarkers } from "../policies/markers/index.ts";
import { telemetryBody as exchangeBody } from "./fixtures.ts";
import { telemetryBody, telemetryPlan } from "./guard.ts";

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

function exchangePlan() {
  const compiled = compileMarkers(DEMO_DATASET.coreMarkers);
  if (!compiled.ok) throw new Error("markers do not compile");
  return compileGuardPlan({
    classes: DEMO_DATASET.fields,
    granted: DEMO_READ_AGREEMENT.fields,
    pseudonymize: DEMO_READ_AGREEMENT.pseudonymize,
    recordsAt: DEMO_DATASET.recordsAt,
    markers: compiled.matcher,
    onMarker: DEMO_DATASET.onMarker,
    pseudonymKey: new Uint8Array(32).fill(7),
  });
}

const which = process.argv[2] ?? "exchange";
const calls = Number(process.argv[3] ?? 5000);
const body = which === "exchange" ? exchangeBody(8 * 1024) : telemetryBody(8 * 1024);
const plan = which === "exchange" ? exchangePlan() : telemetryPlan();
const run = () => {
  const r = guardPayload(plan, body, "json");
  if (!r.ok) throw new Error("refused");
  return r.body;
};
for (let i = 0; i < 2000; i++) run();
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 128,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
for (let i = 0; i < calls; i++) run();
const { profile } = (await session.post("HeapProfiler.stopSampling")) as {
  profile: { head: Node };
};
const self = new Map<string, number>();
const walk = (n: Node) => {
  const f = n.callFrame;
  const key = `${f.functionName || "(anon)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c);
};
walk(profile.head);
let total = 0;
for (const v of self.values()) total += v;
console.log(`${which}: ${Math.round(total / calls)} B sampled per call`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${String(Math.round(v / calls)).padStart(7)}  ${k}`);
}
