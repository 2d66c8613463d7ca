import { describe, expect, it } from "vitest";
import { guardPayload } from "../../../policies/guard/index.ts";
import { expectedPseudonym, markers, plan } from "./plans.ts";

const ok = (result: ReturnType<typeof guardPayload>) => {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result;
};

describe("JSON: records and envelope", () => {
  it("cuts each record at recordsAt and drops everything outside the records", () => {
    const body = JSON.stringify({
      meta: { owner: "fleetco", calibration: "secret" },
      items: [{ vin: "V1", mileage: 10, engine: { calibration: "x" } }],
      next: "cursor",
    });
    const r = ok(guardPayload(plan(), body, "json"));
    expect(JSON.parse(r.body)).toEqual({ items: [{ vin: "V1", mileage: 10 }] });
    expect(r.records).toBe(1);
  });

  it("follows a dotted recordsAt through nested objects and rebuilds only that path", () => {
    const p = plan({ recordsAt: "data.page.rows" });
    const body = '{"x":1,"data":{"total":3,"page":{"n":1,"rows":[{"vin":"A"},{"vin":"B"}]}}}';
    const r = ok(guardPayload(p, body, "json"));
    expect(r.body).toBe('{"data":{"page":{"rows":[{"vin":"A"},{"vin":"B"}]}}}');
    expect(r.records).toBe(2);
  });

  it('takes the body itself as the records when recordsAt is ""', () => {
    const p = plan({ recordsAt: "" });
    expect(ok(guardPayload(p, '[{"vin":"A","x":1},{"vin":"B"}]', "json")).body).toBe(
      '[{"vin":"A"},{"vin":"B"}]',
    );
    const one = ok(guardPayload(p, '{"vin":"A","x":1}', "json"));
    expect(one).toEqual({ ok: true, body: '{"vin":"A"}', records: 1 });
  });

  it("keeps one record object at recordsAt as one record", () => {
    const r = ok(
      guardPayload(plan(), '{"items":{"vin":"A","engine":{"calibration":"c"}}}', "json"),
    );
    expect(r).toEqual({ ok: true, body: '{"items":{"vin":"A"}}', records: 1 });
  });

  it("answers zero records and an empty array when recordsAt is missing or null", () => {
    expect(ok(guardPayload(plan(), '{"other":[{"vin":"A"}]}', "json"))).toEqual({
      ok: true,
      body: '{"items":[]}',
      records: 0,
    });
    expect(ok(guardPayload(plan({ recordsAt: "a.b" }), '{"a":{}}', "json")).body).toBe(
      '{"a":{"b":[]}}',
    );
    expect(ok(guardPayload(plan(), '{"items":null}', "json")).records).toBe(0);
  });

  it("refuses a recordsAt that leads to a scalar, or through one, as not_records", () => {
    for (const body of ['{"items":5}', '{"items":"x"}', "[]", "5"]) {
      const r = guardPayload(plan(), body, "json");
      expect(r).toMatchObject({ ok: false, reason: "uninspectable", detail: "not_records" });
    }
    expect(guardPayload(plan({ recordsAt: "a.b" }), '{"a":[1]}', "json")).toMatchObject({
      detail: "not_records",
    });
    expect(guardPayload(plan({ recordsAt: "" }), '"x"', "json")).toMatchObject({
      detail: "not_records",
    });
  });

  it("drops scalar and array records without counting them, counts records that release nothing as {}", () => {
    const r = ok(
      guardPayload(plan(), '{"items":[1,"a",null,[{"vin":"A"}],{"secret":1},{"vin":"B"}]}', "json"),
    );
    expect(r.body).toBe('{"items":[{},{"vin":"B"}]}');
    expect(r.records).toBe(2);
  });
});

describe("JSON: the release rule, leaf by leaf", () => {
  it("is an allow-list: unclassified fields, ungranted fields and core fields are dropped", () => {
    const p = plan({
      classes: { vin: "shared", odometer: "shared", "engine.calibration": "core" },
      granted: ["vin"],
      pseudonymize: [],
    });
    const body =
      '{"items":[{"vin":"A","odometer":5,"engine":{"calibration":"c","rpm":1},"brandNew":1}]}';
    expect(ok(guardPayload(p, body, "json")).body).toBe('{"items":[{"vin":"A"}]}');
  });

  it("releases everything under a granted shared field, except fields classified core under it", () => {
    const p = plan({
      classes: { speed: "shared", "speed.raw": "core" },
      granted: ["speed"],
      pseudonymize: [],
      markers: null,
    });
    const body = '{"items":[{"speed":{"avg":1,"max":2,"raw":[1,2],"hist":{"a":1}}}]}';
    expect(ok(guardPayload(p, body, "json")).body).toBe(
      '{"items":[{"speed":{"avg":1,"max":2,"hist":{"a":1}}}]}',
    );
  });

  it("never releases a personal field through a broader grant", () => {
    const p = plan({
      classes: { driver: "shared", "driver.name": "personal" },
      granted: ["driver"],
      pseudonymize: [],
    });
    const body = '{"items":[{"driver":{"name":"Alice","team":"north"}}]}';
    expect(ok(guardPayload(p, body, "json")).body).toBe('{"items":[{"driver":{"team":"north"}}]}');
  });

  it("pseudonymizes granted personal fields with a keyed, stable HMAC", async () => {
    const body =
      '{"items":[{"driver":{"name":"Alice"}},{"driver":{"name":"Alice"}},{"driver":{"name":"Bob"}}]}';
    const r = ok(guardPayload(plan(), body, "json"));
    const alice = await expectedPseudonym("Alice");
    const bob = await expectedPseudonym("Bob");
    expect(r.body).toBe(
      `{"items":[{"driver":{"name":"${alice}"}},{"driver":{"name":"${alice}"}},{"driver":{"name":"${bob}"}}]}`,
    );
    expect(alice).toMatch(/^ps_[A-Za-z0-9_-]{22}$/);
    const otherKey = ok(
      guardPayload(plan({ pseudonymKey: new Uint8Array(32).fill(1) }), body, "json"),
    );
    expect(otherKey.body).not.toContain(alice);
  });

  it("pseudonymizes each value as itself, however alike values are and however often they repeat", async () => {
    // Values that differ in one unit only, repeated, and values longer than the cache keeps.
    const long = "x".repeat(300);
    const values: unknown[] = [];
    for (const c of "XYZXYZ") values.push(`a${c}cde`, `a${c}c`, Number(`10${"XYZ".indexOf(c)}01`));
    values.push(`${long}1`, `${long}2`, `${long}1`);
    const body = JSON.stringify({ items: values.map((name) => ({ driver: { name } })) });
    const p = plan();
    for (let round = 0; round < 2; round++) {
      const r = ok(guardPayload(p, body, "json"));
      const names = (JSON.parse(r.body) as { items: { driver: { name: string } }[] }).items.map(
        (i) => i.driver.name,
      );
      expect(names).toEqual(await Promise.all(values.map((v) => expectedPseudonym(v))));
    }
  });

  it("pseudonymizes the canonical JSON of a value: escapes do not change the pseudonym", async () => {
    const r = ok(guardPayload(plan(), '{"items":[{"driver":{"name":"\\u0041lice"}}]}', "json"));
    expect(r.body).toContain(await expectedPseudonym("Alice"));
    const n = ok(guardPayload(plan(), '{"items":[{"driver":{"name":42}}]}', "json"));
    expect(n.body).toContain(await expectedPseudonym(42));
  });

  it("pseudonymizes keys that are not field names under a pseudonymized field (they may be personal data)", async () => {
    const p = plan({
      classes: { driver: "personal" },
      granted: ["driver"],
      pseudonymize: ["driver"],
    });
    const r = ok(guardPayload(p, '{"items":[{"driver":{"Alice Smith":true}}]}', "json"));
    const key = await expectedPseudonym("Alice Smith");
    const value = await expectedPseudonym(true);
    expect(r.body).toBe(`{"items":[{"driver":{"${key}":"${value}"}}]}`);
  });

  it("treats arrays as transparent to paths and keeps element positions", () => {
    const p = plan({
      classes: { "trips.km": "shared", "trips.route": "core" },
      granted: ["trips.km"],
      pseudonymize: [],
    });
    const body = '{"items":[{"trips":[{"km":1,"route":"r"},{"route":"s"},[{"km":2}],{"km":3}]}]}';
    expect(ok(guardPayload(p, body, "json")).body).toBe(
      '{"items":[{"trips":[{"km":1},{},[{"km":2}],{"km":3}]}]}',
    );
  });

  it("omits keys whose subtree releases nothing: no empty objects or arrays left behind", () => {
    const p = plan({
      classes: { "a.b": "shared", "t.k": "shared" },
      granted: ["a.b", "t.k"],
      pseudonymize: [],
    });
    const body = '{"items":[{"a":{"c":1},"t":[{"x":1},{"y":2}],"e":{}},{"a":{},"t":[]}]}';
    expect(ok(guardPayload(p, body, "json")).body).toBe('{"items":[{},{}]}');
  });

  it("drops scalar array elements that are not released, keeps released ones in order", () => {
    const p = plan({
      classes: { tags: "shared", "tags.secret": "core" },
      granted: ["tags"],
      pseudonymize: [],
    });
    const body = '{"items":[{"tags":["a",{"secret":1},"b",{"secret":2,"ok":3}]}]}';
    expect(ok(guardPayload(p, body, "json")).body).toBe(
      '{"items":[{"tags":["a",{},"b",{"ok":3}]}]}',
    );
  });

  it("re-serialises compactly and canonically", () => {
    const body = '{ "items" : [ { "vin" : "A\\/B" ,\n\t"mileage" : 1 } ] }';
    expect(ok(guardPayload(plan(), body, "json")).body).toBe(
      '{"items":[{"vin":"A/B","mileage":1}]}',
    );
  });
});

describe("JSON: core markers", () => {
  it("blocks the whole payload on a marker in a released value, naming marker and path, never the value", () => {
    const body = '{"items":[{"vin":"A"},{"vin":"xx CAL-123456 yy"}]}';
    const r = guardPayload(plan(), body, "json");
    expect(r).toEqual({ ok: false, reason: "leak", rule: "core_marker", marker: 0, path: "vin" });
    expect(JSON.stringify(r)).not.toContain("CAL-123456");
  });

  it("does not trigger on a marker in a field that is cut away", () => {
    const body = '{"items":[{"vin":"A","engine":{"calibration":"CAL-123456"},"x":"CAL-123456"}]}';
    expect(ok(guardPayload(plan(), body, "json")).body).toBe('{"items":[{"vin":"A"}]}');
  });

  it("checks the text of released numbers", () => {
    const p = plan({ markers: markers(["^9{3,}$"]) });
    expect(guardPayload(p, '{"items":[{"mileage":99999}]}', "json")).toMatchObject({
      reason: "leak",
      path: "mileage",
    });
  });

  it("reports the lowest matching marker", () => {
    const p = plan({ markers: markers(["zzz", "CAL-[0-9]{6}", "CAL"]) });
    expect(guardPayload(p, '{"items":[{"vin":"CAL-123456"}]}', "json")).toMatchObject({
      marker: 1,
    });
  });

  it("redacts instead when onMarker is redact", () => {
    const p = plan({ onMarker: "redact" });
    const r = ok(guardPayload(p, '{"items":[{"vin":"CAL-123456","mileage":1}]}', "json"));
    expect(r.body).toBe('{"items":[{"vin":"[REDACTED]","mileage":1}]}');
  });

  it("checks released keys that are data (not field names), matching after unescaping", () => {
    const grant = { classes: { speed: "shared" }, granted: ["speed"], pseudonymize: [] } as const;
    const body = '{"items":[{"speed":{"avg":1,"\\u0043AL-123456":2}}]}';
    expect(guardPayload(plan(grant), body, "json")).toEqual({
      ok: false,
      reason: "leak",
      rule: "core_marker",
      marker: 0,
      path: "speed.*",
    });
    const redacted = ok(guardPayload(plan({ ...grant, onMarker: "redact" }), body, "json"));
    expect(redacted.body).toBe('{"items":[{"speed":{"avg":1}}]}');
  });

  it("skips the marker check for pseudonymized values: the original never leaves", async () => {
    const r = ok(guardPayload(plan(), '{"items":[{"driver":{"name":"CAL-123456"}}]}', "json"));
    expect(r.body).toBe(
      `{"items":[{"driver":{"name":"${await expectedPseudonym("CAL-123456")}"}}]}`,
    );
  });
});

describe("JSON: exact numbers", () => {
  it("keeps big integers and long decimals digit for digit", () => {
    const p = plan({ classes: { n: "shared" }, granted: ["n"], pseudonymize: [], markers: null });
    const numbers = [
      "12345678901234567890123456789",
      "-9007199254740993",
      "0.1000000000000000055511151231257827",
      "3.141592653589793238462643383279502884197",
      "1e400",
      "-0",
      "1.0E+2",
    ];
    const body = `{"items":[${numbers.map((n) => `{"n":${n}}`).join(",")}]}`;
    expect(ok(guardPayload(p, body, "json")).body).toBe(body);
  });
});

describe("JSON: keys read from what the last record held at the same place", () => {
  // The reader guesses, per member place, the key the plan names that it met there last.
  it("reads a named key where an unnamed one of the same length was, and the other way round", () => {
    const p = plan({
      classes: { ...plan().fields.classes, speed: "shared" },
      granted: ["vin", "speed"],
    });
    const body = JSON.stringify({
      items: [
        { vin: "A", spend: 1, extra: { avg: 1 } },
        { vin: "B", speed: 2, extra: { avg: 2 } },
        { vin: "C", spend: 3, speed: 4 },
        { vin: "D", speed: 5, spend: 6 },
      ],
    });
    expect(ok(guardPayload(p, body, "json")).body).toBe(
      '{"items":[{"vin":"A"},{"vin":"B","speed":2},{"vin":"C","speed":4},{"vin":"D","speed":5}]}',
    );
  });

  it("refuses an unnamed key repeated in one object, also where the last record held it", () => {
    const body = '{"items":[{"vin":"A","x":1,"y":2},{"vin":"B","x":1,"x":2}]}';
    const r = guardPayload(plan(), body, "json");
    expect(r).toMatchObject({ ok: false, reason: "uninspectable", detail: "duplicate_key" });
  });

  it("releases an unnamed key under a granted parent, and still checks it against the markers", () => {
    const p = plan({ classes: { vin: "shared", speed: "shared" }, granted: ["vin", "speed"] });
    const body = JSON.stringify({
      items: [
        { vin: "A", speed: { kmh: 1 } },
        { vin: "B", speed: { kmh: 2 } },
        { vin: "C", speed: { "CAL-123456": 3 } },
      ],
    });
    const r = guardPayload(p, body, "json");
    expect(r).toEqual({
      ok: false,
      reason: "leak",
      rule: "core_marker",
      marker: 0,
      path: "speed.*",
    });
  });
});
