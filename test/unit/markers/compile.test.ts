import { describe, expect, it } from "vitest";
import { compileMarkers, type MarkerIssue } from "../../../policies/markers/index.ts";

/** The single issue of a one-pattern compile that must fail. */
function issueOf(pattern: string): MarkerIssue {
  const result = compileMarkers([pattern]);
  if (result.ok) throw new Error(`expected ${pattern} to be refused`);
  expect(result.issues).toHaveLength(1);
  const [issue] = result.issues;
  if (issue === undefined) throw new Error("no issue");
  expect(issue.index).toBe(0);
  expect(issue.pattern).toBe(pattern);
  return issue;
}

describe("compileMarkers accepts common safe patterns", () => {
  const safe = [
    "CAL-[0-9]{6}",
    "^SECRET-",
    "[A-Z]{2}\\d{4}-[a-f0-9]{8}",
    "(?:foo|bar)baz",
    "x{2,5}",
    "(?<serial>SN-\\d{8})",
    "\\d{3}-\\d{2}-\\d{4}",
    "(?:\\d{1,3}\\.){3}\\d{1,3}",
    "[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}",
    "(?:[a-z]+\\.)+[a-z]+",
    "sk_live_[0-9a-zA-Z]{24,99}",
    "^internal:.*$",
    ".*secret",
    "\\d{4}(?:[ -]?\\d{4}){3}",
    "[^\\s@]+@[^\\s@]+",
    "\\x41\\u00e9\\t\\0[\\b]",
    "a|b|^c$",
  ];
  it.each(safe)("%s", (pattern) => {
    const result = compileMarkers([pattern]);
    expect(result.ok ? result.matcher.size : result.issues).toBe(1);
  });

  it("compiles no patterns into a matcher that never matches", () => {
    const result = compileMarkers([]);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.matcher.size).toBe(0);
      expect(result.matcher.firstMatch("CAL-123456")).toBe(-1);
      expect(result.matcher.firstMatch("")).toBe(-1);
    }
  });
});

describe("compileMarkers refuses patterns that can backtrack catastrophically", () => {
  // [pattern, the rule it breaks (a fragment of the message), the part it quotes]
  const unsafe: [string, string, string][] = [
    ["(a+)+", "in more than one way", "`(a+)+` at offset 0"],
    ["([a-z]+)*", "in more than one way", "`([a-z]+)*` at offset 0"],
    ["(\\w+\\s?)+$", "in more than one way", "`(\\w+\\s?)+` at offset 0"],
    ["x(?:a|b+)+y", "in more than one way", "`(?:a|b+)+` at offset 1"],
    ["x(?:ab+|b)+y", "is ambiguous", "by `b` at offset 5 or by `b` at offset 8"],
    ["(a*)*", "can match the empty string", "`(a*)*` at offset 0"],
    ["(a?)*b", "can match the empty string", "`(a?)*` at offset 0"],
    ["(a|)+b", "can match the empty string", "`(a|)+` at offset 0"],
    ["(a|a)*", "is ambiguous", "`(a|a)*` at offset 0"],
    ["(a|ab)*c", "is ambiguous", "`(a|ab)*` at offset 0"],
    ["x(?:(?:ab|ac)d)*", "is ambiguous", "`(?:(?:ab|ac)d)*` at offset 1"],
    ["(?:\\d{1,3}\\d)+", "is ambiguous", "`(?:\\d{1,3}\\d)+` at offset 0"],
    ["(.*a){20}", "partial matches", ""],
    ["(?:a|a){40}", "partial matches", ""],
    ["(?:a?){30}a{30}", "partial matches", ""],
    ["^.*secret.*$", "partial matches", ""],
    [".*a.*b", "partial matches", ""],
    ["\\d+\\d+x", "partial matches", ""],
    ["\\d+.\\d+x", "partial matches", ""],
  ];
  it.each(unsafe)("%s", (pattern, rule, quoted) => {
    const issue = issueOf(pattern);
    expect(issue.code).toBe("unsafe_pattern");
    expect(issue.message).toContain(rule);
    expect(issue.message).toContain(quoted);
  });

  it("names a witness input for the ambiguity bound", () => {
    // Every `a` can end any of the first 20 copies of `.*a`: after 7 of them
    // there are 2^7 = 128 ways, the first count above 64.
    expect(issueOf("(.*a){20}").message).toContain('after the input "aaaaaaa"');
  });

  it("refuses (a|b)*a(a|b){20} for its automaton size", () => {
    // It must remember which of its last 21 characters were `a`: 2^21 states.
    const issue = issueOf("(a|b)*a(a|b){20}");
    expect(issue.code).toBe("unsafe_pattern");
    expect(issue.message).toContain("exceeds the size limit (4096 states)");
  });

  it("refuses patterns that are small alone but too large together, naming the later one", () => {
    // Each remembers where its letter occurred among the last 11 characters
    // (2^11 states); together they remember both letters (3^11 > 4096).
    expect(compileMarkers(["a.{10}"]).ok).toBe(true);
    expect(compileMarkers(["b.{10}"]).ok).toBe(true);
    const result = compileMarkers(["CAL-[0-9]{6}", "a.{10}", "b.{10}"]);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues.map((i) => [i.index, i.code])).toEqual([[2, "unsafe_pattern"]]);
      expect(result.issues[0]?.message).toContain(
        "together with patterns 0 to 1, the combined automaton of the dataset's markers exceeds the size limit (4096 states)",
      );
    }
  });
});

describe("compileMarkers refuses what is outside the supported subset", () => {
  const unsupported: [string, string][] = [
    ["a\\b", "word boundaries"],
    ["a\\Bb", "non-word boundaries"],
    ["a(?=b)", "lookahead and lookbehind"],
    ["a(?!b)", "lookahead and lookbehind"],
    ["(?<=a)b", "lookahead and lookbehind"],
    ["(?<!a)b", "lookahead and lookbehind"],
    ["(a)\\1", "backreferences"],
    ["(?<x>a)\\k<x>", "named backreferences"],
    ["\\p{L}", "Unicode property escapes"],
    ["\\cJ", "control escapes"],
    ["\\u{41}", "four hex digits"],
    ["\\x4", "two hex digits"],
    ["\\01", "legacy octal"],
    ["\\q", "not a supported escape"],
    ["a{", "must be escaped as `\\{`"],
    ["a{,5}", "must be escaped as `\\{`"],
    ["a}", "must be escaped as `\\}`"],
    ["a]", "must be escaped as `\\]`"],
    ["[\\w-z]", "next to a class escape"],
  ];
  it.each(unsupported)("%s", (pattern, why) => {
    const issue = issueOf(pattern);
    expect(issue.code).toBe("unsafe_pattern");
    expect(issue.message).toContain("is not supported");
    expect(issue.message).toContain(why);
  });
});

describe("compileMarkers enforces the caps", () => {
  it("refuses patterns longer than 256 characters", () => {
    const issue = issueOf("a".repeat(257));
    expect(issue.code).toBe("unsafe_pattern");
    expect(issue.message).toContain("257 characters long; the limit is 256");
    expect(compileMarkers(["a".repeat(256)]).ok).toBe(true);
  });

  it.each(["x{101}", "x{1,101}", "x{101,}", "x{999999999999999999999}"])(
    "refuses the repetition bound in %s",
    (pattern) => {
      const issue = issueOf(pattern);
      expect(issue.code).toBe("unsafe_pattern");
      expect(issue.message).toContain("exceeds the limit of 100");
    },
  );

  it("accepts repetition bounds of 100", () => {
    expect(compileMarkers(["x{100}", "y{0,100}", "z{100,}"]).ok).toBe(true);
  });

  it("refuses patterns that unroll to more than 1024 positions", () => {
    // 11 copies of 100 positions.
    const issue = issueOf("(?:x{100}){11}");
    expect(issue.code).toBe("unsafe_pattern");
    expect(issue.message).toContain("1100 character positions");
  });
});

describe("compileMarkers reports invalid patterns", () => {
  it.each(["(", "[a", "a**", "*a", "a{2,1}", "[z-a]", "(?<n>a)(?<n>b)", "\\", "a)"])(
    "%s",
    (pattern) => {
      const issue = issueOf(pattern);
      expect(issue.code).toBe("invalid_pattern");
      let native = "";
      try {
        new RegExp(pattern);
      } catch (e) {
        native = (e as Error).message;
      }
      expect(native).not.toBe("");
      expect(issue.message).toContain(native);
    },
  );

  it("reports every bad pattern with its index and code, and no good one", () => {
    const result = compileMarkers(["CAL-[0-9]{6}", "(", "(a+)+", "^ok$", "a\\b"]);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues.map((i) => [i.index, i.pattern, i.code])).toEqual([
        [1, "(", "invalid_pattern"],
        [2, "(a+)+", "unsafe_pattern"],
        [4, "a\\b", "unsafe_pattern"],
      ]);
      for (const issue of result.issues) expect(issue.message).toMatch(/^pattern \d+ `/);
    }
  });
});
