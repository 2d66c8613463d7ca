/**
 * The payload guard: what is classified core, what is not granted, and any
 * value that looks like the owner's core data never crosses the gateway,
 * whatever shape the payload takes. Applied alike to read responses and to
 * deliver bodies. Pure: no I/O, no clock.
 */
import { cutCsv } from "./csv.ts";
import { type Cut, cutJson, cutNdjson } from "./json.ts";
import type { GuardPlan } from "./plan.ts";
import { type GuardResult, type MediaKind, Refusal } from "./result.ts";
import type { ScanState } from "./scan.ts";

export { mediaKindOf } from "./media.ts";
export {
  compileGuardPlan,
  type GuardPlan,
  type GuardPlanInput,
  MAX_DEPTH_CEILING,
} from "./plan.ts";
export type { GuardRefusal, GuardResult, MediaKind, UninspectableDetail } from "./result.ts";

const CUTTERS: Record<MediaKind, (plan: GuardPlan, text: string, scan: ScanState) => Cut> = {
  json: cutJson,
  ndjson: cutNdjson,
  csv: (plan, text) => cutCsv(plan, text),
};

/**
 * Makes V8 store the body as one flat string: it was built by concatenation,
 * and flattening here keeps its cost in the guard rather than in the encoder.
 */
const flat = (s: string): string => {
  void Number(s);
  return s;
};

/**
 * Cuts `text` (a body of `kind`) to what `plan` lets leave, or says why nothing
 * may. Fastest on a flat string, as TextDecoder (decodeBody) makes them.
 */
export function guardPayload(plan: GuardPlan, text: string, kind: MediaKind): GuardResult {
  const scan = plan.scans.take();
  scan.enter();
  try {
    const cut = CUTTERS[kind](plan, text, scan);
    return { ok: true, body: flat(cut.body), records: cut.records };
  } catch (e) {
    if (e instanceof Refusal) return e.result;
    // Unreachable under MAX_DEPTH_CEILING; should a caller run with a tiny stack, refuse, never crash.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return {
        ok: false,
        reason: "uninspectable",
        detail: "too_deep",
        message: "JSON nested too deep",
      };
    }
    throw e;
  } finally {
    scan.leave();
    plan.scans.give(scan);
  }
}
