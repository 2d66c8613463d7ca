/** docOf: the entity in an item's `doc`, parsed once per exact text and shared (frozen). */
import { describe, expect, it } from "vitest";
import { docOf, S } from "../../../functions/store/codec.ts";

describe("docOf", () => {
  it("parses the text, shares one frozen value per text, and stays right past its bound", () => {
    const first = docOf<{ id: string }>({ doc: S('{"id":"a"}') });
    expect(first).toEqual({ id: "a" });
    expect(Object.isFrozen(first)).toBe(true);
    expect(docOf({ doc: S('{"id":"a"}') })).toBe(first);
    for (let i = 0; i < 5000; i++)
      expect(docOf({ doc: S(`{"id":"e${i}"}`) })).toEqual({ id: `e${i}` });
    // Pushed out by newer texts: parsed again, equal, never another entity's value.
    expect(docOf({ doc: S('{"id":"a"}') })).toEqual({ id: "a" });
    expect(docOf({ doc: S('{"id":"e4999"}') })).toEqual({ id: "e4999" });
  });

  it("answers undefined without a doc, and null for a bare null (never kept)", () => {
    expect(docOf(undefined)).toBeUndefined();
    expect(docOf({ other: S("x") })).toBeUndefined();
    expect(docOf({ doc: S("null") })).toBeNull();
  });
});
