import { describe, expect, it } from "vitest";
import { mediaKindOf } from "../../../policies/guard/index.ts";

describe("mediaKindOf", () => {
  it.each([
    ["application/json", "json"],
    ["Application/JSON", "json"],
    ["application/json; charset=utf-8", "json"],
    ["application/json;charset=UTF-8", "json"],
    ['application/json; charset="utf-8"', "json"],
    ["application/problem+json", "json"],
    ["application/vnd.fleet.v2+json; charset=utf-8", "json"],
    ["application/ld+json", "json"],
    ["application/x-ndjson", "ndjson"],
    ["application/ndjson", "ndjson"],
    ["application/jsonl", "ndjson"],
    ["text/csv", "csv"],
    ["text/csv; charset=utf-8; header=present", "csv"],
    [" text/csv ", "csv"],
  ])("%s is %s", (type, kind) => {
    expect(mediaKindOf(type)).toBe(kind);
  });

  it.each([
    [null],
    [undefined],
    [""],
    ["text/plain"],
    ["application/xml"],
    ["text/json"],
    ["application/json; charset=latin1"],
    ["application/json; charset=utf-16"],
    ["text/csv; charset=iso-8859-1"],
    ["application/+json"],
    ["application/json/x"],
    ["application/json; charset"],
    ["application/jsonx"],
    ["multipart/form-data"],
    ["application/octet-stream"],
  ])("%s is refused", (type) => {
    expect(mediaKindOf(type)).toBeNull();
  });
});
