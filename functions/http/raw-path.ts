/**
 * Path tricks are refused on the raw request target, before anything decodes
 * or normalises it: the WHATWG URL parser would otherwise turn
 * `/v1/exchange/a/%2e%2e/x` into `/v1/exchange/x` before routing.
 *
 * Only origin-form targets are served (`/path?query`): no absolute-form
 * (`http://host/path`, whose host could disagree with Host), no
 * asterisk-form, no fragment (a `#` is not part of a request target, and the
 * URL parser and the raw target would disagree on where the path ends).
 */

const MAX_DECODES = 4;
/** Longest path (without the query) the gateway routes. */
export const MAX_PATH_CHARS = 2048;

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

/** Why the raw target would escape or confuse routing, or null when it is clean. */
export function rawPathProblem(target: string): string | null {
  if (!target.startsWith("/") || target.startsWith("//"))
    return "the request target is not an absolute path";
  if (target.includes("#")) return "the request target holds a fragment";
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  if (path.length > MAX_PATH_CHARS) return `the path is longer than ${MAX_PATH_CHARS} characters`;
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
    if (decoded.includes("/")) return "the path holds an encoded slash";
    if (seg === "" && i < segments.length - 1) return "the path holds an empty segment";
  }
  return null;
}
