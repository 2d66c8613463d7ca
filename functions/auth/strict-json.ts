/**
 * JSON.parse that refuses duplicate member names at any depth. A token whose
 * header or claims (or a request body whose object) names a member twice is
 * ambiguous (parsers disagree on which one wins), so it is refused rather
 * than interpreted.
 */

/** A member named twice in one object. */
export class DuplicateMemberError extends SyntaxError {
  override readonly name = "DuplicateMemberError";
  constructor(readonly member: string) {
    super(`duplicate member ${JSON.stringify(member)}`);
  }
}

export function parseStrictJson(text: string, maxDepth = 16): unknown {
  const value = JSON.parse(text) as unknown;
  assertNoDuplicates(text, maxDepth);
  return value;
}

/** Scans valid JSON text and throws on a repeated member name within one object. */
function assertNoDuplicates(text: string, maxDepth: number): void {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      stack.push(new Set());
      if (stack.length > maxDepth) throw new SyntaxError("JSON nests too deep");
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      if (stack.length > maxDepth) throw new SyntaxError("JSON nests too deep");
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack.at(-1) instanceof Set;
    } else if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      if (expectKey) {
        const keys = stack.at(-1);
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys?.has(name)) throw new DuplicateMemberError(name);
        keys?.add(name);
        expectKey = false;
      }
      i = end;
    }
  }
}

function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22) return i;
  }
  throw new SyntaxError("unterminated string");
}
