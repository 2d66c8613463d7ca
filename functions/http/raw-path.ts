/**
 * Path tricks are refused on the raw request target, before anything decodes
 * or normalises it: the WHATWG URL parser would otherwise turn
 * `/v1/exchange/a/%2e%2e/x` into `/v1/exchange/x` before routing.
 */

const MAX_DECODES = 4;

/** Decodes percent-escapes until stable; null where the escapes are malformed. */
export function decodeFully(segment: string): string | null {
  let s = segment;
  for (let i = 0; i < MAX_DECODES; i++) {
    if (!s.includes("%")) return s;
    let next: string;
    try {
      next = decodeURIComponent(s);
    } catch {
      return null;
    }
    if (next === s) return s;
    s = next;
  }
  return s.includes("%") ? null : s;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why the raw path would escape or confuse routing, or null when it is clean. */
export function rawPathProblem(target: string): string | null {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  if (CONTROL.test(path)) return "the path holds control characters";
  if (path.includes("\\")) return "the path holds a backslash";
  const segments = path.split("/").slice(1);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] ?? "";
    const decoded = decodeFully(seg);
    if (decoded === null) return "the path holds a malformed percent-escape";
    if (decoded === "." || decoded === "..") return "the path holds a dot segment";
    if (CONTROL.test(decoded) || decoded.includes("\\"))
      return "the path holds an encoded control character or backslash";
    if (seg === "" && i < segments.length - 1) return "the path holds an empty segment";
  }
  return null;
}
