/**
 * Shapes that break naive filters, one test each, in every format where the
 * shape can occur.
 */
import { describe, expect, it } from "vitest";
import {
  compileGuardPlan,
  guardPayload,
  MAX_DEPTH_CEILING,
  type MediaKind,
} from "../../../policies/guard/index.ts";
import { plan, TELEMETRY } from "./plans.ts";

const body = (r: ReturnType<typeof guardPayload>): string => {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.body;
};
const refusal = (text: string, kind: MediaKind = "json", p = plan()) => guardPayload(p, text, kind);
const records = (...lines: string[]) => `{"items":[${lines.join(",")}]}`;

describe("nested objects and arrays at any depth", () => {
  const deep = plan({
    classes: { "a.b.c.d": "shared", "a.b.x": "core" },
    granted: ["a.b.c.d"],
    pseudonymize: [],
  });
  it("JSON", () => {
    const text = records('{"a":[{"b":{"c":[[{"d":1,"e":2}],{"d":[3,{"z":4}]}],"x":5}},{"b":[]}]}');
    // Everything under the granted d leaves (d.z too); x is core; the second a element keeps its place.
    expect(body(refusal(text, "json", deep))).toBe(
      records('{"a":[{"b":{"c":[[{"d":1}],{"d":[3,{"z":4}]}]}},{}]}'),
    );
  });
  it("NDJSON", () => {
    const text = '{"a":{"b":{"c":{"d":{"deeper":[1]}},"x":1}}}\n{"a":{"b":{"x":2}}}\n';
    expect(body(refusal(text, "ndjson", deep))).toBe(
      '{"a":{"b":{"c":{"d":{"deeper":[1]}}}}}\n{}\n',
    );
  });
  it("CSV (header cells are dot paths)", () => {
    const text = "a.b.c.d,a.b.x,a.b.c.d.e\r\n1,2,3\r\n";
    expect(body(refusal(text, "csv", deep))).toBe("a.b.c.d,a.b.c.d.e\r\n1,3\r\n");
  });
});

describe("duplicate keys are refused", () => {
  const dup = { ok: false, reason: "uninspectable", detail: "duplicate_key" };
  it("JSON: in a record, in a dropped subtree, in the envelope, and spelled with escapes", () => {
    expect(refusal(records('{"vin":"A","vin":"B"}'))).toMatchObject(dup);
    expect(refusal(records('{"engine":{"calibration":1,"calibration":2}}'))).toMatchObject(dup);
    expect(refusal('{"meta":1,"items":[],"meta":2}')).toMatchObject(dup);
    expect(refusal('{"items":[],"items":[{"vin":"CAL-123456"}]}')).toMatchObject(dup);
    expect(refusal(records('{"vin":"A","\\u0076in":"B"}'))).toMatchObject(dup);
    expect(refusal(records('{"x\\u0041":1,"xA":2}'))).toMatchObject(dup);
  });
  it("JSON: in objects with many keys (past the small-object path)", () => {
    const keys = Array.from({ length: 60 }, (_, i) => `"k${i}":${i}`);
    expect(body(refusal(records(`{${keys.join(",")}}`)))).toBe(records("{}"));
    expect(refusal(records(`{${keys.join(",")},"k7":0}`))).toMatchObject(dup);
  });
  it("NDJSON", () => {
    expect(refusal('{"vin":"A"}\n{"mileage":1,"mileage":2}\n', "ndjson")).toMatchObject(dup);
  });
  it("CSV: a repeated column", () => {
    expect(refusal("vin,mileage,vin\r\nA,1,B\r\n", "csv")).toMatchObject(dup);
  });
});

describe("\\u-escaped keys are decoded before matching", () => {
  it("JSON: an escaped core key is still core, an escaped granted key is released canonically", () => {
    const text = records(
      '{"\\u0065ngine":{"calibration":"c"},"\\u0076in":"A","sp\\u0065ed":{"avg":1}}',
    );
    expect(body(refusal(text))).toBe(records('{"vin":"A","speed":{"avg":1}}'));
  });
  it("NDJSON", () => {
    expect(body(refusal('{"\\u0076in":"A","\\u0065ngine":{"calibration":"c"}}\n', "ndjson"))).toBe(
      '{"vin":"A"}\n',
    );
  });
});

describe("keys that only look like granted ones are dropped", () => {
  const lookalikes = [
    "VIN",
    "Vin",
    "\uff56\uff49\uff4e",
    "vin ",
    " vin",
    "vin\\u0000",
    "vin\\ud800",
    "v\\u0131n",
  ];
  it("JSON", () => {
    const text = records(`{${lookalikes.map((k, i) => `"${k}":"x${i}"`).join(",")}}`);
    expect(body(refusal(text))).toBe(records("{}"));
  });
  it("NDJSON", () => {
    const text = `${lookalikes.map((k) => `{"${k}":"x"}`).join("\n")}\n`;
    expect(body(refusal(text, "ndjson"))).toBe("{}\n".repeat(lookalikes.length));
  });
  it("CSV", () => {
    const header = ["VIN", "\uff56\uff49\uff4e", "vin ", "vin\u0000", "mileage"];
    const text = `${header.join(",")}\r\n${header.map(() => "x").join(",")}\r\n`;
    expect(body(refusal(text, "csv"))).toBe("mileage\r\nx\r\n");
  });
});

describe("dotted keys are one segment", () => {
  it('JSON: a literal key "speed.avg" never matches the path speed.avg', () => {
    const text = records('{"speed.avg":1,"speed":{"avg":2,"avg.x":3}}');
    expect(body(refusal(text))).toBe(records('{"speed":{"avg":2}}'));
  });
  it("NDJSON", () => {
    expect(body(refusal('{"speed.avg":1,"engine.calibration":"CAL-123456"}\n', "ndjson"))).toBe(
      "{}\n",
    );
  });
  it("CSV: a header is a dot path by definition, so speed.avg there is the field", () => {
    expect(body(refusal("speed.avg,speed..avg\r\n1,2\r\n", "csv"))).toBe("speed.avg\r\n1\r\n");
  });
});

describe("__proto__, constructor and prototype are plain data", () => {
  const evil =
    '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":1,"vin":"A"}';
  it("JSON: dropped when not granted, and nothing is polluted", () => {
    expect(body(refusal(records(evil)))).toBe(records('{"vin":"A"}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  it("JSON: released when literally granted, as data", () => {
    // An object literal cannot hold an own "__proto__" key; JSON.parse can, as a dataset's fields would.
    const classes = JSON.parse(
      '{"__proto__":"shared","constructor.prototype":"shared","prototype":"shared"}',
    );
    const granted = compileGuardPlan({
      ...TELEMETRY,
      classes,
      granted: ["__proto__", "constructor.prototype", "prototype"],
      pseudonymize: [],
      markers: null,
    });
    expect(body(refusal(records(evil), "json", granted))).toBe(
      records(
        '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":1}',
      ),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  it("NDJSON and CSV", () => {
    expect(body(refusal(`${evil}\n`, "ndjson"))).toBe('{"vin":"A"}\n');
    expect(body(refusal("__proto__,constructor,vin\r\nx,y,A\r\n", "csv"))).toBe("vin\r\nA\r\n");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("nesting thousands deep is refused as too_deep, never a crash", () => {
  const tooDeep = { ok: false, reason: "uninspectable", detail: "too_deep" };
  it("JSON: arrays and objects, in records, in dropped subtrees and in the envelope", () => {
    const n = 100_000;
    expect(refusal("[".repeat(n) + "]".repeat(n))).toMatchObject(tooDeep);
    expect(refusal(records(`{"x":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`))).toMatchObject(tooDeep);
    expect(refusal(records(`{"vin":${"[".repeat(n)}${"]".repeat(n)}}`))).toMatchObject(tooDeep);
    expect(refusal(`{"meta":${"[".repeat(n)}`)).toMatchObject(tooDeep);
  });
  it("JSON: maxDepth is the deepest nesting accepted", () => {
    const p = plan({ classes: { a: "shared" }, granted: ["a"], pseudonymize: [], maxDepth: 5 });
    // items object (1) > array (2) > record (3) > a: [ (4) > [ (5)
    expect(body(refusal(records('{"a":[[1]]}'), "json", p))).toBe(records('{"a":[[1]]}'));
    expect(refusal(records('{"a":[[[1]]]}'), "json", p)).toMatchObject(tooDeep);
  });
  it("NDJSON", () => {
    expect(
      refusal(`{"vin":"A"}\n{"x":${"[".repeat(5000)}${"]".repeat(5000)}}\n`, "ndjson"),
    ).toMatchObject(tooDeep);
  });
});

describe("a byte-order mark is stripped", () => {
  it("JSON, NDJSON and CSV", () => {
    expect(body(refusal(`\ufeff${records('{"vin":"A"}')}`))).toBe(records('{"vin":"A"}'));
    expect(body(refusal('\ufeff{"vin":"A"}\n', "ndjson"))).toBe('{"vin":"A"}\n');
    expect(body(refusal("\ufeffvin\r\nA\r\n", "csv"))).toBe("vin\r\nA\r\n");
  });
  it("but only at the very start", () => {
    expect(refusal(` \ufeff${records("")}`)).toMatchObject({ detail: "parse_error" });
  });
});

describe("big integers and long decimals cross exactly", () => {
  const big = "123456789012345678901234567890";
  const long = "0.30000000000000000000000000000000004";
  it("JSON and NDJSON", () => {
    expect(body(refusal(records(`{"mileage":${big}},{"mileage":${long}}`)))).toBe(
      records(`{"mileage":${big}},{"mileage":${long}}`),
    );
    expect(body(refusal(`{"mileage":-${big}e-400}\n`, "ndjson"))).toBe(
      `{"mileage":-${big}e-400}\n`,
    );
  });
  it("CSV", () => {
    expect(body(refusal(`mileage\r\n${big}\r\n${long}\r\n`, "csv"))).toBe(
      `mileage\r\n${big}\r\n${long}\r\n`,
    );
  });
});

describe("invalid JSON of every kind is refused as parse_error", () => {
  const invalid: Record<string, string> = {
    "empty body": "",
    "only whitespace": " \n\t ",
    "trailing garbage": `${records("")}x`,
    "a second value": `${records("")} {}`,
    "unterminated string": '{"items":[{"vin":"A}]}',
    "unterminated object": '{"items":[]',
    "unterminated array": '{"items":[{"vin":"A"}',
    "raw control character in a string": '{"items":[{"vin":"A\tB"}]}',
    "raw newline in a string": '{"items":[{"vin":"A\nB"}]}',
    "invalid escape": '{"items":[{"vin":"\\x41"}]}',
    "short unicode escape": '{"items":[{"vin":"\\u12"}]}',
    "non-hex unicode escape": '{"items":[{"vin":"\\u12G4"}]}',
    "escape at the end": '{"items":[{"vin":"\\',
    NaN: '{"items":[{"mileage":NaN}]}',
    Infinity: '{"items":[{"mileage":Infinity}]}',
    "-Infinity": '{"items":[{"mileage":-Infinity}]}',
    "leading zero": '{"items":[{"mileage":01}]}',
    "leading plus": '{"items":[{"mileage":+1}]}',
    "bare dot": '{"items":[{"mileage":.5}]}',
    "trailing dot": '{"items":[{"mileage":1.}]}',
    "empty exponent": '{"items":[{"mileage":1e}]}',
    "lone minus": '{"items":[{"mileage":-}]}',
    hex: '{"items":[{"mileage":0x10}]}',
    "single quotes": "{'items':[]}",
    "unquoted key": "{items:[]}",
    comment: '{"items":[] /* c */}',
    "trailing comma in object": '{"items":[],}',
    "trailing comma in array": '{"items":[{"vin":"A"},]}',
    "missing colon": '{"items" []}',
    "missing comma": '{"items":[{"vin":"A" "mileage":1}]}',
    "leading comma": '{"items":[,{"vin":"A"}]}',
    "truncated literal": '{"items":[{"vin":tru}]}',
    "capitalised literal": '{"items":[{"vin":True}]}',
    "raw unpaired surrogate": '{"items":[{"vin":"\ud800"}]}',
    "invalid in a dropped subtree": '{"meta":{"a":[1,2,]},"items":[]}',
    "invalid in a skipped record field": '{"items":[{"engine":{"calibration":01}}]}',
  };
  for (const [name, text] of Object.entries(invalid)) {
    it(name, () => {
      expect(refusal(text)).toMatchObject({
        ok: false,
        reason: "uninspectable",
        detail: "parse_error",
      });
    });
  }
  it("NDJSON: one bad line refuses the whole body; a value may not span lines", () => {
    expect(refusal('{"vin":"A"}\n{"vin":"B"\n', "ndjson")).toMatchObject({ detail: "parse_error" });
    expect(refusal('{"vin":\n"A"}\n', "ndjson")).toMatchObject({ detail: "parse_error" });
    expect(refusal('{"vin":"A"} {"vin":"B"}\n', "ndjson")).toMatchObject({ detail: "parse_error" });
    expect(refusal('{"vin":NaN}\n', "ndjson")).toMatchObject({ detail: "parse_error" });
  });
  it("CSV: unterminated quotes, stray quotes, ragged rows, no header", () => {
    for (const text of [
      'vin\r\n"A\r\n',
      'vin\r\nA"B\r\n',
      'vin\r\n"A"B\r\n',
      "vin,mileage\r\nA\r\n",
      "",
    ]) {
      expect(refusal(text, "csv")).toMatchObject({
        ok: false,
        reason: "uninspectable",
        detail: "parse_error",
      });
    }
  });
});

describe("escaped lone surrogates are valid JSON and survive as escapes", () => {
  it("in released values and keys", () => {
    const p = plan({
      classes: { vin: "shared", speed: "shared" },
      granted: ["vin", "speed"],
      pseudonymize: [],
    });
    const text = records('{"vin":"a\\ud800b\\udc00","speed":{"\\udbff":1}}');
    expect(body(refusal(text, "json", p))).toBe(text);
    expect(body(refusal('{"vin":"\\ud83d\\ude00"}\n', "ndjson", p))).toBe(
      '{"vin":"\ud83d\ude00"}\n',
    );
  });
});

describe("the depth ceiling", () => {
  it("caps maxDepth, so a body at the ceiling is inspected without exhausting the stack", () => {
    const p = compileGuardPlan({
      ...TELEMETRY,
      recordsAt: "",
      classes: { a: "shared" },
      granted: ["a"],
      pseudonymize: [],
      maxDepth: 1_000_000,
    });
    const nested = (n: number) => `{"a":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`;
    // The record is level 1, so n nested objects under it reach level n + 1.
    expect(guardPayload(p, nested(MAX_DEPTH_CEILING - 1), "json").ok).toBe(true);
    expect(guardPayload(p, nested(MAX_DEPTH_CEILING), "json")).toMatchObject({
      detail: "too_deep",
    });
  });
});
