/**
 * The oracle's own reading of a JWS part, for the differential tests: its
 * own JSON parser (recursive descent) that refuses a member named twice,
 * canonical base64url, fatal UTF-8. Written independently of
 * functions/auth/strict-json.ts, which the verifiers use.
 */

/**
 * A JSON value parsed by a small recursive-descent parser of its own, which
 * refuses a member named twice in one object: jose lets the last one win,
 * the gateway refuses the token (parsers disagree on which one wins).
 */
export function parseNoDuplicates(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i] ?? "")) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const k = value();
        if (typeof k !== "string") throw new SyntaxError("key");
        if (seen.has(k)) throw new SyntaxError(`duplicate ${k}`);
        seen.add(k);
        ws();
        if (text[i++] !== ":") throw new SyntaxError(":");
        out[k] = value();
        ws();
        const d = text[i++];
        if (d === "}") return out;
        if (d !== ",") throw new SyntaxError(",");
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        const d = text[i++];
        if (d === "]") return out;
        if (d !== ",") throw new SyntaxError(",");
      }
    }
    // Scalars: the longest prefix JSON.parse takes as one value.
    const m = SCALAR.exec(text.slice(i));
    if (m === null) throw new SyntaxError("value");
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) throw new SyntaxError("trailing data");
  return v;
}

export const PART = /^[A-Za-z0-9_-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters end a JSON string
const SCALAR = /^("(?:[^"\\\u0000-\u001f]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/;

export function decodedObject(part: string): Record<string, unknown> | null {
  const bytes = Buffer.from(part, "base64url");
  if (!PART.test(part) || bytes.toString("base64url") !== part) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  try {
    const v = parseNoDuplicates(text);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
