/**
 * Which bodies the guard can inspect, from their Content-Type (RFC 9110
 * media type with parameters). Anything else is refused by the caller, never
 * passed on unread.
 */
import type { MediaKind } from "./result.ts";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PARAMETER =
  /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)=("(?:[^"\\]|\\.)*"|[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*$/;
const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl"]);

/** The kind of a media type (lower case, no parameters), or null. */
function kindOfType(type: string): MediaKind | null {
  if (type === "application/json") return "json";
  // A structured-syntax suffix needs a name before it (RFC 6839): application/+json is not one.
  if (type.startsWith("application/") && type.endsWith("+json") && type.length > 17) return "json";
  if (NDJSON_TYPES.has(type)) return "ndjson";
  if (type === "text/csv") return "csv";
  return null;
}

/** The parameters' charset (lower case), "" when absent, or null when a parameter is malformed. */
function charsetOf(parameters: readonly string[]): string | null {
  let charset = "";
  for (const parameter of parameters) {
    const m = PARAMETER.exec(parameter);
    if (m === null) return null;
    if ((m[1] as string).toLowerCase() !== "charset") continue;
    const raw = m[2] as string;
    charset = (raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw).toLowerCase();
  }
  return charset;
}

/**
 * From a Content-Type header: application/json and application/*+json → json;
 * application/x-ndjson, application/ndjson, application/jsonl → ndjson;
 * text/csv → csv; the charset must be absent or utf-8; anything else → null.
 */
export function mediaKindOf(contentType: string | null | undefined): MediaKind | null {
  if (contentType === null || contentType === undefined) return null;
  // A quoted parameter may hold ';' only in exotic headers; such a header is refused as malformed.
  const [essence = "", ...parameters] = contentType.split(";");
  const [type = "", subtype = "", ...rest] = essence.trim().split("/");
  if (rest.length > 0 || !TOKEN.test(type) || !TOKEN.test(subtype)) return null;
  const kind = kindOfType(`${type}/${subtype}`.toLowerCase());
  if (kind === null) return null;
  const charset = charsetOf(parameters);
  return charset === "" || charset === "utf-8" ? kind : null;
}
