/**
 * The streaming guard against the buffered one: for random bodies (valid and
 * broken) of each format, split into random chunks (inside multi-byte UTF-8
 * characters, escapes, numbers and keys), the concatenated output, the record
 * count and any refusal are exactly what guardPayload answers for the whole.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compileGuardPlan,
  type GuardPlan,
  type GuardResult,
  guardPayload,
  type MediaKind,
  openGuardStream,
} from "../../../policies/guard/index.ts";
import type { MarkerMatcher } from "../../../policies/markers/index.ts";
import { type Json, ndjsonOf, planAndRecords } from "./arbitraries.ts";
import { markers, plan, TELEMETRY } from "./plans.ts";

const MARKERS = markers(["CAL-[0-9]{6}", "7777"]);
const utf8 = new TextEncoder();
/** The text as its UTF-8 bytes read back: a lone surrogate has no UTF-8 form and comes back as U+FFFD. */
const asBytesSay = (text: string): string =>
  new TextDecoder("utf-8", { ignoreBOM: true }).decode(utf8.encode(text));

/** Feeds `chunks` to a stream and answers as guardPayload does. */
function streamed(
  p: GuardPlan,
  kind: MediaKind,
  chunks: readonly (Uint8Array | string)[],
  maxRecordChars?: number,
): GuardResult {
  const s = openGuardStream(p, kind, maxRecordChars === undefined ? {} : { maxRecordChars });
  let body = "";
  for (const chunk of chunks) {
    const r = s.write(chunk);
    if (!r.ok) return r;
    body += r.text;
  }
  const r = s.end();
  return r.ok ? { ok: true, body: body + r.text, records: r.records } : r;
}

/** `bytes` cut at the given offsets. */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  return out;
}

/** Text that is hard to split: multi-byte characters, escapes, numbers, keys, broken syntax. */
const TRICKY = [
  "é",
  "€",
  "😀",
  "\\u00e9",
  "\\ud83d\\ude00",
  "\\n",
  '\\"',
  "\\",
  "\\u12",
  '"',
  "12.5e-3",
  "-0",
  "1e",
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  " ",
  "\n",
  "\r\n",
  "\r",
  '"vin":"dup",',
  '"vin":',
  "\ud800",
  "tru",
  "null",
  "CAL-123456",
  "\ufeff",
  "=1+1",
];

/** Inserts tricky text at random places (mostly none, so that many bodies stay valid). */
const mutated = (text: string) =>
  fc.array(fc.tuple(fc.nat(), fc.constantFrom(...TRICKY)), { maxLength: 3 }).chain((edits) =>
    fc.constantFrom(
      text,
      edits.reduce((t, [at, what]) => {
        const i = at % (t.length + 1);
        return t.slice(0, i) + what + t.slice(i);
      }, text),
    ),
  );

/** Records with multi-byte text in them. */
const withUnicode = (rs: readonly Json[]): Json[] =>
  rs.map((r, i) =>
    r !== null && typeof r === "object" && !Array.isArray(r)
      ? { ...r, vin: `v${i}é€😀`, name: "Chloé" }
      : r,
  );

const jsonBody = (rs: readonly Json[]) =>
  JSON.stringify({ meta: { x: "é" }, items: withUnicode(rs), after: [1, 2.5] });

const csvTable = fc.array(
  fc.array(fc.string({ unit: fc.constantFrom(...'ab1,"é😀\n -=@+'), maxLength: 5 }), {
    minLength: 3,
    maxLength: 3,
  }),
  { maxLength: 5 },
);
const quote = (c: string): string => (/[",\r\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c);
const csvBody = (rows: readonly string[][]) =>
  ["vin,mileage,driver.name", ...rows.map((r) => r.map(quote).join(","))].join("\r\n");

/** A plan, a kind and a body of that kind, often broken on purpose. */
const cases = fc.oneof(
  planAndRecords.chain(([input, rs]) =>
    fc.record({
      input: fc.constant(input),
      kind: fc.constant<MediaKind>("json"),
      text: mutated(jsonBody(rs)),
    }),
  ),
  planAndRecords.chain(([input, rs]) =>
    fc.record({
      input: fc.constant(input),
      kind: fc.constant<MediaKind>("ndjson"),
      text: mutated(ndjsonOf(withUnicode(rs))),
    }),
  ),
  planAndRecords.chain(([input]) =>
    fc.record({
      input: fc.constant({
        ...input,
        classes: { ...input.classes, mileage: "shared", "driver.name": "personal" } as const,
        granted: [...input.granted, "mileage", "driver.name"],
      }),
      kind: fc.constant<MediaKind>("csv"),
      text: csvTable.chain((rows) => mutated(csvBody(rows))),
    }),
  ),
);
const onMarker = fc.constantFrom<"block" | "redact">("block", "redact");

describe("property: the stream answers what the buffered guard answers", () => {
  it("for random bodies split at random byte offsets", () => {
    fc.assert(
      fc.property(cases, onMarker, fc.array(fc.nat(), { maxLength: 12 }), (c, mode, cuts) => {
        const p = compileGuardPlan({ ...c.input, markers: MARKERS, onMarker: mode });
        const whole = guardPayload(p, asBytesSay(c.text), c.kind);
        expect(streamed(p, c.kind, split(utf8.encode(c.text), cuts))).toEqual(whole);
      }),
      { numRuns: 1500 },
    );
  });

  it("for random bodies split into chunks of one byte", () => {
    fc.assert(
      fc.property(cases, onMarker, (c, mode) => {
        const p = compileGuardPlan({ ...c.input, markers: MARKERS, onMarker: mode });
        const bytes = utf8.encode(c.text);
        const ones = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
        expect(streamed(p, c.kind, ones)).toEqual(guardPayload(p, asBytesSay(c.text), c.kind));
      }),
      { numRuns: 300 },
    );
  });

  it("for random text chunks (already decoded), split inside surrogate pairs too", () => {
    fc.assert(
      fc.property(cases, fc.array(fc.nat(), { maxLength: 12 }), (c, cuts) => {
        const p = compileGuardPlan({ ...c.input, markers: MARKERS, onMarker: "redact" });
        const at = [...new Set(cuts.map((x) => x % (c.text.length + 1)))].sort((a, b) => a - b);
        const chunks = [...at, c.text.length].map((to, i) => c.text.slice(at[i - 1] ?? 0, to));
        expect(streamed(p, c.kind, chunks)).toEqual(guardPayload(p, c.text, c.kind));
      }),
      { numRuns: 500 },
    );
  });

  it("refuses a record over the cap alike however the body is split", () => {
    fc.assert(
      fc.property(
        cases,
        fc.integer({ min: 1, max: 80 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (c, cap, cuts) => {
          const p = compileGuardPlan({ ...c.input, markers: MARKERS, onMarker: "block" });
          const bytes = utf8.encode(c.text);
          const one = streamed(p, c.kind, [bytes], cap);
          expect(streamed(p, c.kind, split(bytes, cuts), cap)).toEqual(one);
          if (one.ok || one.reason !== "uninspectable" || one.detail !== "record_too_large") {
            expect(one).toEqual(guardPayload(p, asBytesSay(c.text), c.kind));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("a record cap met by a CR that may begin a CRLF", () => {
  // Found by the property above (seed -1426930172): the CR at offset 14 is
  // refused as soon as the next character comes, within a cap of 14; a body
  // cut right after it must wait for that character, not call the row too large.
  const text = "vin,mileage,dr\river\r\nA,1,2\r\n";
  it("answers as the whole body when cut at every offset", () => {
    const p = plan({ onMarker: "block", recordsAt: "items" });
    const one = streamed(p, "csv", [text], 14);
    expect(one).toMatchObject({ ok: false, detail: "parse_error" });
    for (let at = 0; at <= text.length; at++)
      expect(streamed(p, "csv", [text.slice(0, at), text.slice(at)], 14), `cut at ${at}`).toEqual(
        one,
      );
  });
  it("still refuses a row longer than the cap that a cut CR ends", () => {
    const p = plan({ onMarker: "block", recordsAt: "items" });
    const long = "vin,mileage,driver\r\nA,1,2\r\n";
    expect(streamed(p, "csv", [long.slice(0, 19), long.slice(19)], 14)).toMatchObject({
      ok: false,
      detail: "record_too_large",
    });
  });
});

describe("every byte boundary of bodies chosen to be hard to split", () => {
  const bodies: [MediaKind, string, string?][] = [
    ["json", "123.5e7", ""],
    ["json", '[1, {"vin":"A"}, -23, true, "x"]  ', ""],
    ["json", '{"vin":"\\u00e9","mileage":0.5}', ""],
    ["json", '{"items":[{"vin":"Chlo\\u00e9 😀","mileage":-12.5e+3,"x":[1,{"y":null}]}]}'],
    ["json", '{"meta":{"a":[true,false,"\\"]"]},"items":[{"vin":"€"},{"vin":"A","vin":"B"}]}'],
    ["json", '{"items":[{"vin":"ok"},{"mileage":12345678901234567890}],"next":"CAL-000001"}'],
    ["json", '{"items":[{"vin":"x\\ud83d\\ude00"},{"engine":{"calibration":"CAL-123456"}}]}'],
    ["json", '{"items":[{"vin":"a"},{"vin":"CAL-123456"}]}'],
    ["json", '\ufeff {"items" : [ {"vin" : "A" } , 5 , [1] ] } \n'],
    ["ndjson", '{"vin":"é"}\r\n\n{"driver":{"name":"Zoë"}}\n7\n{"mileage":1.0E-2}'],
    ["ndjson", '{"vin":"A"}\n{"vin":"B"'],
    ["csv", 'vin,mileage\r\n"a ""q"", é",1\r\n😀,-2\n"multi\r\nline",3\r\n\r\n'],
    ["csv", "vin,mileage\r\nA,1\r\n\r\nB\r\n"],
  ];
  for (const [kind, text, recordsAt = "items"] of bodies) {
    it(`${kind}: ${JSON.stringify(text).slice(0, 50)}`, () => {
      const p = plan({ onMarker: "block", recordsAt });
      const whole = guardPayload(p, text, kind);
      const bytes = utf8.encode(text);
      for (let i = 0; i <= bytes.length; i++) {
        expect(streamed(p, kind, [bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
        for (let j = i; j <= Math.min(bytes.length, i + 4); j++) {
          const three = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
          expect(streamed(p, kind, three)).toEqual(whole);
        }
      }
    });
  }
});

describe("streaming", () => {
  const ndjson = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => `{"vin":"V${from + i}","secret":1}\n`).join("");

  it("hands back each record's cut text as soon as the record is complete", () => {
    const s = openGuardStream(plan(), "ndjson");
    expect(s.write(utf8.encode('{"vin":"A","x":1}\n{"vin":'))).toEqual({
      ok: true,
      text: '{"vin":"A"}\n',
    });
    expect(s.write(utf8.encode('"B"}\n'))).toEqual({ ok: true, text: '{"vin":"B"}\n' });
    expect(s.end()).toEqual({ ok: true, text: "", records: 2 });
  });

  it("JSON records leave as they complete; the envelope closes at the end", () => {
    const s = openGuardStream(plan(), "json");
    const first = s.write('{"meta":1,"items":[{"vin":"A"},{"vi');
    expect(first).toEqual({ ok: true, text: '{"items":[{"vin":"A"}' });
    expect(s.write('n":"B"}]}')).toEqual({ ok: true, text: ',{"vin":"B"}]' });
    expect(s.end()).toEqual({ ok: true, text: "}", records: 2 });
  });

  it("a marker in the last record refuses the whole stream under block", () => {
    const s = openGuardStream(plan(), "ndjson");
    expect(s.write(ndjson(1000))).toMatchObject({ ok: true });
    expect(s.write('{"vin":"CAL-123456"}\n')).toEqual({
      ok: false,
      reason: "leak",
      rule: "core_marker",
      marker: 0,
      path: "vin",
    });
    expect(s.end()).toMatchObject({ ok: false, reason: "leak" });
  });

  it("refuses bytes that are not UTF-8, also when the bad sequence is split or cut short", () => {
    for (const chunks of [
      [new Uint8Array([0x7b, 0xff, 0x7d])],
      [new Uint8Array([0x22, 0xe2, 0x82]), new Uint8Array([0x41])],
      [utf8.encode('{"vin":"A"}\n'), new Uint8Array([0xf0, 0x9f])],
    ]) {
      expect(streamed(plan(), "ndjson", chunks)).toMatchObject({
        ok: false,
        reason: "uninspectable",
        detail: "not_utf8",
      });
    }
  });

  it("refuses a record longer than the cap, and keeps memory to one record", () => {
    const s = openGuardStream(plan(), "ndjson", { maxRecordChars: 100 });
    expect(s.write(ndjson(50))).toMatchObject({ ok: true });
    expect(s.write(`{"vin":"${"x".repeat(200)}`)).toMatchObject({
      ok: false,
      detail: "record_too_large",
    });
  });

  it("streams on one plan interleave chunk by chunk without disturbing each other", () => {
    const p = plan();
    const bodies = [
      `{"items":[${Array.from({ length: 40 }, (_, i) => `{"vin":"A${i}","mileage":${i}}`).join(",")}]}`,
      `{"items":[${Array.from({ length: 40 }, (_, i) => `{"mileage":${i},"vin":"B${i}"}`).join(",")},{"vin":"d","vin":"d"}]}`,
      `{"items":[${Array.from({ length: 40 }, (_, i) => `{"vin":"C${i}","x":{"y":${i},"z":${i}}}`).join(",")}]}`,
    ];
    const streams = bodies.map(() => openGuardStream(p, "json"));
    const outs = bodies.map(() => "");
    const refused: (GuardResult | null)[] = bodies.map(() => null);
    for (let at = 0; at < Math.max(...bodies.map((b) => b.length)); at += 7) {
      bodies.forEach((b, k) => {
        if (refused[k] !== null || at >= b.length) return;
        const r = (streams[k] as ReturnType<typeof openGuardStream>).write(b.slice(at, at + 7));
        if (r.ok) outs[k] += r.text;
        else refused[k] = r;
      });
    }
    bodies.forEach((b, k) => {
      const whole = guardPayload(p, b, "json");
      const end = refused[k] ?? (streams[k] as ReturnType<typeof openGuardStream>).end();
      if (!end.ok) expect(end).toEqual(whole);
      else if ("text" in end) {
        expect({ ok: true, body: outs[k] + end.text, records: end.records }).toEqual(whole);
      }
    });
    expect(refused[1]).toMatchObject({ detail: "duplicate_key" });
  });

  it("throws when a step re-enters its own stream", () => {
    let s: ReturnType<typeof openGuardStream> | undefined;
    let armed = false;
    const matcher: MarkerMatcher = {
      size: 1,
      firstMatch: () => {
        if (armed) s?.write('{"vin":"B"}\n');
        return -1;
      },
    };
    const p = compileGuardPlan({ ...TELEMETRY, markers: matcher });
    armed = true;
    s = openGuardStream(p, "ndjson");
    expect(() => s?.write('{"vin":"A"}\n')).toThrow(/re-entered/);
  });

  it("refuses hostile shapes as soon as the text shows them, whatever the chunks", () => {
    const deep = `{"items":[{"vin":${"[".repeat(100_000)}`;
    const s = openGuardStream(plan(), "json");
    let answer: ReturnType<typeof s.write> = { ok: true, text: "" };
    let at = 0;
    for (; answer.ok && at < deep.length; at += 10) answer = s.write(deep.slice(at, at + 10));
    expect(answer).toMatchObject({ ok: false, detail: "too_deep" });
    expect(at).toBeLessThan(200); // the 64th level, not the end of the body
    const dup = openGuardStream(plan(), "ndjson");
    expect(dup.write('{"vin":"A","mileage":1,"vi')).toEqual({ ok: true, text: "" });
    expect(dup.write('n":"B"}\n')).toMatchObject({ ok: false, detail: "duplicate_key" });
  });

  it("refuses to mix bytes and text in one stream", () => {
    const s = openGuardStream(plan(), "ndjson");
    s.write(utf8.encode("{"));
    expect(() => s.write('"vin":"A"}\n')).toThrow(TypeError);
  });
});
