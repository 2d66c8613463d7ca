/**
 * csv-parse as a differential oracle for the CSV cutter: under a plan that
 * releases every column, what the guard writes reads back (with csv-parse)
 * as exactly the rows csv-parse reads from the input, for random RFC 4180
 * text (quoted and bare cells, commas, quotes and line breaks inside quotes,
 * CRLF and LF, blank lines inside the body, multi-byte text); and for broken
 * text, whatever the guard accepts csv-parse reads alike. The one difference
 * by design: blank lines closing the body are ignored by the guard.
 */
import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileGuardPlan, type GuardPlan, guardPayload } from "../../../policies/guard/index.ts";
import { KEY } from "./plans.ts";

/** RFC 4180 with LF alone also ending a line, strict otherwise (as the guard is). */
const oracle = (text: string): string[][] =>
  parse(text, {
    bom: true,
    record_delimiter: ["\r\n", "\n"],
    skip_empty_lines: false,
    relax_column_count: false,
    relax_quotes: false,
  }) as string[][];

const releaseAll = (header: readonly string[]): GuardPlan =>
  compileGuardPlan({
    classes: Object.fromEntries(header.map((h) => [h, "shared" as const])),
    granted: [...header],
    pseudonymize: [],
    recordsAt: "",
    markers: null,
    onMarker: "block",
    pseudonymKey: KEY,
  });

/** Cells: quotes, commas, line breaks, spaces, multi-byte text; no formula starts (see formula tests). */
const cellText = fc.string({ unit: fc.constantFrom(...'ab1 ,"\r\né😀'), maxLength: 6 });
const header = fc.uniqueArray(fc.constantFrom("vin", "mileage", "name", "speed.avg", "x"), {
  minLength: 1,
  maxLength: 4,
});

/** A cell as written by someone: quoted when it must be, sometimes when it need not. */
const written = (cell: string, quoteAnyway: boolean): string =>
  quoteAnyway || /[",\r\n]/.test(cell) || cell === "" ? `"${cell.replaceAll('"', '""')}"` : cell;

const table = header.chain((h) =>
  fc.record({
    header: fc.constant(h),
    rows: fc.array(
      fc.record({
        cells: fc.array(cellText, { minLength: h.length, maxLength: h.length }),
        quoteAnyway: fc.boolean(),
        /** A blank line before the row (a record of one empty cell: only where one column is). */
        blankBefore: fc.boolean(),
      }),
      { maxLength: 5 },
    ),
    eol: fc.constantFrom("\r\n", "\n"),
    finalEol: fc.boolean(),
    bom: fc.boolean(),
  }),
);

type Table = typeof table extends fc.Arbitrary<infer T> ? T : never;

function textOf(t: Table): string {
  const lines = [t.header.join(",")];
  for (const row of t.rows) {
    if (row.blankBefore && t.header.length === 1) lines.push("");
    lines.push(row.cells.map((c) => written(c, row.quoteAnyway)).join(","));
  }
  return `${t.bom ? "\ufeff" : ""}${lines.join(t.eol)}${t.finalEol ? t.eol : ""}`;
}

describe("csv-parse as an oracle for the CSV cutter", () => {
  it("valid text: the cut body reads back as the rows csv-parse reads from the input", () => {
    fc.assert(
      fc.property(table, (t) => {
        const text = textOf(t);
        const r = guardPayload(releaseAll(t.header), text, "csv");
        if (!r.ok)
          throw new Error(`refused valid CSV ${JSON.stringify(text)}: ${JSON.stringify(r)}`);
        const rows = oracle(text);
        expect(oracle(r.body)).toEqual(rows);
        expect(r.records).toBe(rows.length - 1);
      }),
      { numRuns: 1000 },
    );
  });

  it("broken text: what the guard accepts, csv-parse reads alike", () => {
    const broken = table.chain((t) =>
      fc.tuple(fc.nat(), fc.constantFrom('"', "\r", "\n", ",", '""', 'x"')).map(([at, what]) => {
        const text = textOf(t);
        const i = at % (text.length + 1);
        return { header: t.header, text: text.slice(0, i) + what + text.slice(i) };
      }),
    );
    fc.assert(
      fc.property(broken, ({ header: h, text }) => {
        const r = guardPayload(releaseAll(h), text, "csv");
        if (!r.ok) return;
        let rows: string[][];
        try {
          // Blank lines closing the body are no records to the guard (csv-parse reads each as one).
          rows = oracle(text.replace(/(?<=\n)[\r\n]*$/, ""));
        } catch (e) {
          throw new Error(`the guard accepted ${JSON.stringify(text)}, csv-parse refused it: ${e}`);
        }
        // The guard reads its header from the text: a mutated header releases what it names.
        const released = r.body === "" ? [] : oracle(r.body);
        const keep = (rows[0] ?? []).map((name) => (h as readonly string[]).includes(name));
        expect(released).toEqual(
          keep.some(Boolean) ? rows.map((row) => row.filter((_, i) => keep[i])) : [],
        );
      }),
      { numRuns: 1000 },
    );
  });
});
