/**
 * The payload guard: what is classified core, what is not granted, and any
 * value that looks like the owner's core data never crosses the gateway,
 * whatever shape the payload takes. Applied alike to read responses and to
 * deliver bodies, whole (`guardPayload`) or streamed (`openGuardStream`): one
 * implementation, the whole body being a stream of one chunk. Pure: no I/O,
 * no clock.
 */
import type { GuardPlan } from "./plan.ts";
import type { GuardResult, MediaKind } from "./result.ts";
import { guardWhole } from "./stream.ts";

export { mediaKindOf } from "./media.ts";
export {
  compileGuardPlan,
  type GuardPlan,
  type GuardPlanInput,
  MAX_DEPTH_CEILING,
} from "./plan.ts";
export type { GuardRefusal, GuardResult, MediaKind, UninspectableDetail } from "./result.ts";
export {
  DEFAULT_MAX_RECORD_CHARS,
  type GuardChunk,
  type GuardEnd,
  type GuardStream,
  type GuardStreamOptions,
  openGuardStream,
} from "./stream.ts";

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
  const r = guardWhole(plan, text, kind);
  return r.ok ? { ok: true, body: flat(r.text), records: r.records } : r;
}
