/**
 * Property tests: (1) a planted marker never leaves, (2) the guard agrees
 * with the reference rule `verdictFor` leaf by leaf, (3) no core or unlisted
 * leaf ever leaves, in JSON, NDJSON and CSV.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classify, type FieldPlanInput, verdictFor } from "../../../policies/fields.ts";
import { compileGuardPlan, guardPayload, type MediaKind } from "../../../policies/guard/index.ts";
import {
  compile,
  expectedLeaves,
  type Json,
  leavesOf,
  ndjsonOf,
  planAndRecords,
  planInput,
  pseudonym,
  SEGMENTS,
  sortLeaves,
} from "./arbitraries.ts";
import { markers } from "./plans.ts";

const MARKERS = markers(["CAL-[0-9]{6}", "7777"]);
/** Nothing the generators make can spell a marker, so one in the output came from a plant. */
const LEAKED = /CAL-[0-9]{6}|7777/;
const withoutPseudonyms = (s: string): string => s.replace(/ps_[A-Za-z0-9_-]{22}/g, "");

const jsonOf = (rs: readonly Json[]): string => JSON.stringify({ meta: { x: "CAL" }, items: rs });

/** Inserts `what` into the n-th string token (key or value) of JSON text, or replaces the n-th number. */
function plant(text: string, n: number, inNumber: boolean): string {
  const tokens = [...text.matchAll(inNumber ? /-?\d+/g : /"(?:[^"\\]|\\.)*"/g)];
  if (tokens.length === 0) return text;
  const t = tokens[n % tokens.length] as RegExpExecArray;
  const at = t.index;
  if (inNumber) return `${text.slice(0, at)}777712${text.slice(at + t[0].length)}`;
  return `${text.slice(0, at + 1)}x CAL-123456 ${text.slice(at + 1)}`;
}

// ------------------------------------------------------------------------- CSV

const header = fc.uniqueArray(
  fc
    .array(fc.constantFrom(...SEGMENTS, "extra"), { minLength: 1, maxLength: 3 })
    .map((s) => s.join(".")),
  { minLength: 1, maxLength: 5 },
);
const csvTable = header.chain((h) =>
  fc.record({
    header: fc.constant(h),
    rows: fc.array(
      fc.array(fc.string({ unit: fc.constantFrom(..."abxy019 ,\"'"), maxLength: 6 }), {
        minLength: h.length,
        maxLength: h.length,
      }),
      { maxLength: 4 },
    ),
  }),
);
const quote = (c: string): string => (/[",\r\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c);
/** RFC 4180 text; a row of one empty cell is written `""` so it is not a blank line. */
const csvOf = (rows: readonly (readonly string[])[]): string =>
  rows.map((r) => `${r.length === 1 && r[0] === "" ? '""' : r.map(quote).join(",")}\r\n`).join("");

// ------------------------------------------------------------------------- (1)

describe("property: a planted marker never leaves", () => {
  const onMarker = fc.constantFrom<"block" | "redact">("block", "redact");

  const check = (r: ReturnType<typeof guardPayload>, mode: "block" | "redact") => {
    if (r.ok) expect(withoutPseudonyms(r.body)).not.toMatch(LEAKED);
    else expect(r.reason).toBe(mode === "block" ? "leak" : "never");
    if (!r.ok && r.reason === "leak") expect(JSON.stringify(r)).not.toMatch(LEAKED);
  };

  for (const kind of ["json", "ndjson"] as MediaKind[]) {
    it(`${kind}: in values, numbers and keys, at any depth`, () => {
      fc.assert(
        fc.property(
          planAndRecords,
          onMarker,
          fc.nat(),
          fc.boolean(),
          ([input, rs], mode, n, inNumber) => {
            const p = compileGuardPlan({ ...input, markers: MARKERS, onMarker: mode });
            const text = plant(kind === "json" ? jsonOf(rs) : ndjsonOf(rs), n, inNumber);
            check(guardPayload(p, text, kind), mode);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("csv: in cells and in header names", () => {
    fc.assert(
      fc.property(planInput, csvTable, onMarker, fc.nat(), (input, table, mode, n) => {
        const p = compileGuardPlan({ ...input, markers: MARKERS, onMarker: mode });
        const cells = [table.header, ...table.rows].map((r) => [...r]);
        const flat = cells.flat().length;
        const i = n % flat;
        const row = cells[Math.floor(i / table.header.length)] as string[];
        row[i % table.header.length] = `y CAL-654321${row[i % table.header.length]}`;
        check(guardPayload(p, csvOf(cells), "csv"), mode);
      }),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------------------- (2)

describe("property: the guard agrees with verdictFor, leaf by leaf", () => {
  const outputLeaves = (body: string, kind: MediaKind): Json[] =>
    kind === "json"
      ? (JSON.parse(body) as { items: Json[] }).items
      : body === ""
        ? []
        : body
            .trimEnd()
            .split("\n")
            .map((l) => JSON.parse(l) as Json);

  for (const kind of ["json", "ndjson"] as MediaKind[]) {
    it(kind, () => {
      fc.assert(
        fc.property(planAndRecords, ([input, rs]) => {
          const r = guardPayload(compile(input), kind === "json" ? jsonOf(rs) : ndjsonOf(rs), kind);
          if (!r.ok) throw new Error(JSON.stringify(r));
          const out = outputLeaves(r.body, kind);
          expect(r.records).toBe(rs.length);
          expect(out).toHaveLength(rs.length);
          rs.forEach((record, i) => {
            expect(sortLeaves(leavesOf(out[i] as Json))).toEqual(
              sortLeaves(expectedLeaves(input, record)),
            );
          });
        }),
        { numRuns: 300 },
      );
    });
  }

  it("csv", () => {
    fc.assert(
      fc.property(planInput, csvTable, (input, table) => {
        const r = guardPayload(compile(input), csvOf([table.header, ...table.rows]), "csv");
        if (!r.ok) throw new Error(JSON.stringify(r));
        const verdicts = table.header.map((h) => verdictFor(input, h));
        const keep = (row: readonly string[], cell: (c: string, i: number) => string) =>
          row.flatMap((c, i) => (verdicts[i] === "drop" ? [] : [cell(c, i)]));
        const released = verdicts.some((v) => v !== "drop");
        const expected = released
          ? csvOf([
              keep(table.header, (c) => c),
              ...table.rows.map((row) =>
                keep(row, (c, i) =>
                  verdicts[i] === "pseudonymize" ? pseudonym(JSON.stringify(c)) : c,
                ),
              ),
            ])
          : "";
        expect(r.body).toBe(expected);
        expect(r.records).toBe(released ? table.rows.length : 0);
      }),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------------------- (3)

/** Makes every string and number of the records unique, so each can be looked for in the output. */
function tagged(rs: Json[]): { records: Json[]; tags: Map<string, string> } {
  let n = 0;
  const tags = new Map<string, string>(); // tag text -> the leaf's path
  const walk = (v: Json, at: string): Json => {
    if (Array.isArray(v)) return v.map((e) => walk(e, at));
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v).map(([k, e]) => [k, walk(e, at === "" ? k : `${at}.${k}`)]),
      );
    }
    n++;
    if (typeof v === "string") {
      tags.set(`§${n}§`, at);
      return `§${n}§`;
    }
    if (typeof v === "number") {
      tags.set(String(1_000_000 + n), at);
      return 1_000_000 + n;
    }
    return v;
  };
  return { records: rs.map((r) => walk(r, "")), tags };
}

describe("property: no core-classified or unlisted leaf ever leaves", () => {
  const neverCore = (fields: FieldPlanInput, tags: Map<string, string>, body: string) => {
    for (const [tag, at] of tags) {
      if (verdictFor(fields, at) === "drop") expect(body).not.toContain(tag);
      if (body.includes(tag)) expect(classify(fields.classes, at)).not.toBe("core");
    }
  };

  for (const kind of ["json", "ndjson"] as MediaKind[]) {
    it(kind, () => {
      fc.assert(
        fc.property(planAndRecords, ([input, rs]) => {
          const { records: tagged_, tags } = tagged(rs);
          const r = guardPayload(
            compile(input),
            kind === "json" ? jsonOf(tagged_) : ndjsonOf(tagged_),
            kind,
          );
          if (!r.ok) throw new Error(JSON.stringify(r));
          neverCore(input, tags, r.body);
        }),
        { numRuns: 300 },
      );
    });
  }

  it("csv", () => {
    fc.assert(
      fc.property(planInput, csvTable, (input, table) => {
        const tags = new Map<string, string>();
        const rows = table.rows.map((row, r) =>
          row.map((_, i) => {
            const tag = `§${r}.${i}§`;
            tags.set(tag, table.header[i] as string);
            return tag;
          }),
        );
        const r = guardPayload(compile(input), csvOf([table.header, ...rows]), "csv");
        if (!r.ok) throw new Error(JSON.stringify(r));
        neverCore(input, tags, r.body);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------- whitespace

/** `text` with a space, tab or line end after some of the structural characters (never inside a string). */
function spaced(text: string, picks: readonly number[], spaces: readonly string[]): string {
  const at = new Set(picks);
  let out = "";
  let inString = false;
  let structural = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    out += c;
    if (inString) {
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if ("{}[],:".includes(c) && at.has(structural++)) {
      out += spaces[structural % spaces.length];
    }
  }
  return out;
}

describe("property: the output does not depend on insignificant whitespace", () => {
  // Text that leaves as it came is copied in ranges: whitespace must break them, never leak into the output.
  it("json, with the markers checked and pseudonyms made alike", () => {
    fc.assert(
      fc.property(
        planAndRecords,
        fc.uniqueArray(fc.nat({ max: 200 }), { maxLength: 40 }),
        fc.array(fc.constantFrom(" ", "\n", "\t", "\r\n", "  "), { minLength: 1, maxLength: 3 }),
        fc.constantFrom<"block" | "redact">("block", "redact"),
        ([input, rs], picks, spaces, onMarker) => {
          const p = compileGuardPlan({ ...input, markers: MARKERS, onMarker });
          const compact = jsonOf(rs);
          expect(guardPayload(p, spaced(compact, picks, spaces), "json")).toEqual(
            guardPayload(p, compact, "json"),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
