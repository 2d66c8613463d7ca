/**
 * Generators for the property tests: random plans over a small pool of
 * segments (so data and plans meet often), random records, and a reference
 * reading of records as leaves, built on `verdictFor` alone.
 */

import { createHmac } from "node:crypto";
import fc from "fast-check";
import { type FieldPlanInput, verdictFor } from "../../../policies/fields.ts";
import {
  compileGuardPlan,
  type GuardPlan,
  type GuardPlanInput,
} from "../../../policies/guard/index.ts";
import type { Classification } from "../../../policies/model.ts";
import { KEY } from "./plans.ts";

export const SEGMENTS = ["vin", "speed", "avg", "engine", "driver", "name", "trips"];
/** Keys the plans never name: new fields a provider may add. */
const EXTRA_KEYS = ["extra", "q", "zz"];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const path = fc
  .array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 2 })
  .map((segments) => segments.join("."));

const cls = fc.constantFrom<Classification>("shared", "shared", "personal", "personal", "core");

/**
 * Plans that grant much of what they classify (else little would leave and
 * the properties would say little), and some paths they do not classify.
 */
export const planInput: fc.Arbitrary<Omit<GuardPlanInput, "markers" | "onMarker">> = fc
  .dictionary(path, cls, { minKeys: 1, maxKeys: 6, noNullPrototype: true })
  .chain((classes) =>
    fc.record({
      classes: fc.constant(classes),
      granted: fc
        .tuple(fc.subarray(Object.keys(classes)), fc.uniqueArray(path, { maxLength: 2 }))
        .map(([a, b]) => [...new Set([...a, ...b])]),
      pseudonymize: fc.subarray(Object.keys(classes).filter((p) => classes[p] === "personal")),
    }),
  )
  .map((p) => ({ ...p, recordsAt: "items", pseudonymKey: KEY }));

/** Cell and string text: lower case, digits and the characters CSV must quote. */
const text = fc.string({
  unit: fc.constantFrom(..."abcxyz0189 ,\"'"),
  maxLength: 8,
});

const key = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...SEGMENTS) },
  fc.constantFrom(...EXTRA_KEYS),
);

const scalar: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: text },
  { weight: 2, arbitrary: fc.integer({ min: -999, max: 999 }) },
  fc.boolean(),
  fc.constant(null),
);

const { value } = fc.letrec<{ value: Json; object: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    tie("object"),
    fc.array(tie("value"), { maxLength: 3 }),
  ),
  object: fc.dictionary(key, tie("value"), { maxKeys: 4, noNullPrototype: true }),
}));

/** Records: mostly scalars and shallow objects, so plans of one or two segments meet them. */
export const record: fc.Arbitrary<{ [key: string]: Json }> = fc.dictionary(
  key,
  fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 2, arbitrary: value }),
  { maxKeys: 6, noNullPrototype: true },
);
/** Puts each value at its dot path (an array of it when asked), making objects on the way. */
function build(entries: readonly (readonly [string, Json, boolean])[]): { [key: string]: Json } {
  const root: { [key: string]: Json } = {};
  for (const [at, v, asArray] of entries) {
    const segments = at.split(".");
    let o = root;
    for (const s of segments.slice(0, -1)) {
      const next = o[s];
      if (next === null || typeof next !== "object" || Array.isArray(next)) o[s] = {};
      o = o[s] as { [key: string]: Json };
    }
    o[segments[segments.length - 1] as string] = asArray ? [v, v] : v;
  }
  return root;
}

/** Records shaped after a plan's own paths (so much of them meets the plan), with new fields too. */
const recordFor = (paths: readonly string[]) =>
  fc
    .array(
      fc.tuple(
        fc.constantFrom(...paths, ...EXTRA_KEYS),
        fc.oneof(scalar, scalar, value),
        fc.boolean(),
      ),
      {
        maxLength: 6,
      },
    )
    .map(build);

const pathsOf = (p: Omit<GuardPlanInput, "markers" | "onMarker">): string[] => [
  ...Object.keys(p.classes),
  ...p.granted,
];

/** A plan and records for it: some shaped after the plan, some entirely random. */
export const planAndRecords = planInput.chain((input) =>
  fc.tuple(
    fc.constant(input),
    fc.array(fc.oneof(recordFor(pathsOf(input)), recordFor(pathsOf(input)), record), {
      minLength: 1,
      maxLength: 4,
    }),
  ),
);

export function compile(input: Omit<GuardPlanInput, "markers" | "onMarker">): GuardPlan {
  return compileGuardPlan({ ...input, markers: null, onMarker: "block" });
}

export const ndjsonOf = (rs: readonly Json[]): string =>
  rs.map((r) => `${JSON.stringify(r)}\n`).join("");

export const pseudonym = (canonicalJson: string): string =>
  `ps_${createHmac("sha256", KEY).update(canonicalJson).digest("base64url").slice(0, 22)}`;

export interface Leaf {
  readonly path: string;
  readonly value: string;
}

/** The scalar leaves of a value, arrays transparent to paths; values as JSON text. */
export function leavesOf(v: Json, at = "", out: Leaf[] = []): Leaf[] {
  if (Array.isArray(v)) for (const e of v) leavesOf(e, at, out);
  else if (v !== null && typeof v === "object") {
    for (const [k, e] of Object.entries(v)) leavesOf(e, at === "" ? k : `${at}.${k}`, out);
  } else out.push({ path: at, value: JSON.stringify(v) });
  return out;
}

/** Every prefix of every path the plan names: keys that are field names, not data. */
function namedPrefixes(fields: FieldPlanInput): Set<string> {
  const named = new Set<string>();
  for (const p of [
    ...Object.keys(fields.classes),
    ...fields.granted,
    ...(fields.pseudonymize ?? []),
  ]) {
    const segments = p.split(".");
    for (let i = 1; i <= segments.length; i++) named.add(segments.slice(0, i).join("."));
  }
  return named;
}

/**
 * What the reference rule lets leave of one record, as leaves: each leaf's
 * verdict by `verdictFor`; pseudonymized values replaced; a key the plan does
 * not name, below a place where unnamed keys are pseudonymized, replaced too.
 */
export function expectedLeaves(fields: FieldPlanInput, v: Json): Leaf[] {
  const named = namedPrefixes(fields);
  const out: Leaf[] = [];
  const walk = (x: Json, real: string, shown: string, listed: boolean): void => {
    if (Array.isArray(x)) {
      for (const e of x) walk(e, real, shown, listed);
    } else if (x !== null && typeof x === "object") {
      for (const [k, e] of Object.entries(x)) {
        const childReal = real === "" ? k : `${real}.${k}`;
        const childListed = listed && named.has(childReal);
        const unnamed = `${real === "" ? "" : `${real}.`}\u0000`;
        const shownKey =
          !childListed && verdictFor(fields, unnamed) === "pseudonymize"
            ? pseudonym(JSON.stringify(k))
            : k;
        walk(e, childReal, shown === "" ? shownKey : `${shown}.${shownKey}`, childListed);
      }
    } else if (real !== "") {
      const verdict = verdictFor(fields, real);
      const text = JSON.stringify(x);
      if (verdict === "release") out.push({ path: shown, value: text });
      if (verdict === "pseudonymize")
        out.push({ path: shown, value: JSON.stringify(pseudonym(text)) });
    }
  };
  walk(v, "", "", true);
  return out;
}

export const sortLeaves = (leaves: Leaf[]): string[] =>
  leaves.map((l) => `${l.path}=${l.value}`).sort();
