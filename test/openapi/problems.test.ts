/**
 * The problem table (functions/problems.ts) is the one source of codes and
 * statuses: errors derive their status from it, the policy's reasons are
 * entries of it, and the OpenAPI operations can name only its codes, each at
 * one of its own statuses. Pure: no store, no app.
 */
import { describe, expect, it } from "vitest";
import {
  ConflictError,
  ForbiddenError,
  GatewayError,
  InvalidRequestError,
  NotFoundError,
  RuleViolationError,
  StoreUnavailableError,
} from "../../functions/errors.ts";
import { denialError } from "../../functions/exchange/denials.ts";
import { problemBody } from "../../functions/http/problem.ts";
import { openapiDocument } from "../../functions/openapi/document.ts";
import { at, operationSpecs, type ProblemRef } from "../../functions/openapi/operations.ts";
import {
  isProblemCode,
  PROBLEMS,
  type ProblemCode,
  REASON_PHRASES,
  statusesOf,
} from "../../functions/problems.ts";
import { AGREEMENT_RULE_CODES, EXCHANGE_DENIAL_CODES } from "../../policies/codes.ts";

const codes = Object.keys(PROBLEMS) as ProblemCode[];

describe("the problem table", () => {
  it("gives every code a status with a reason phrase, a title and a meaning", () => {
    for (const code of codes) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      const statuses = statusesOf(code);
      expect(statuses.length, code).toBeGreaterThan(0);
      expect(new Set(statuses).size, code).toBe(statuses.length);
      for (const status of statuses) {
        expect(status, code).toBeGreaterThanOrEqual(400);
        expect(REASON_PHRASES[status], `${code} ${status}`).toMatch(/^[A-Z]/);
      }
      expect(PROBLEMS[code].title, code).toMatch(/^[A-Z][^.]*[a-z]$/);
      expect(PROBLEMS[code].about.length, code).toBeGreaterThan(5);
    }
  });

  it("holds the codes the contract's v2 sections add", () => {
    for (const [code, status] of [
      ["partner_offboarded", 403],
      ["method_not_allowed", 405],
      ["invalid_transition", 409],
      ["not_in_offer", 422],
      ["period_closed", 409],
      ["period_open", 409],
      ["transfer_not_found", 404],
      ["store_unavailable", 503],
    ] as const) {
      expect(statusesOf(code)).toContain(status);
    }
  });

  it("has an entry for every reason the exchange policy gives, answered at a refusal's status", () => {
    for (const code of EXCHANGE_DENIAL_CODES) {
      expect(isProblemCode(code), code).toBe(true);
      const err = denialError([{ code, message: `because ${code}` }]);
      expect(err.code).toBe(code);
      expect(err.status).toBe(statusesOf(code)[0]);
      expect([403, 404, 451]).toContain(err.status);
      expect(err.extensions).toEqual({ reasons: [{ code, message: `because ${code}` }] });
    }
    expect(denialError([{ code: "jurisdiction_blocked", message: "x" }]).status).toBe(451);
    expect(denialError([{ code: "agreement_not_found", message: "x" }]).status).toBe(404);
  });

  it("has an entry at 422 for every agreement rule", () => {
    for (const code of AGREEMENT_RULE_CODES) {
      expect(statusesOf(code), code).toContain(422);
      expect(new RuleViolationError(code, "broken").status, code).toBe(422);
    }
  });
});

describe("errors", () => {
  it("take their status from the table, the usual one unless they name another of the code's", () => {
    expect(new GatewayError("quota_exceeded", "x").status).toBe(429);
    expect(new GatewayError("leak_blocked", "x").status).toBe(422);
    expect(new GatewayError("leak_blocked", "x", { status: 502 }).status).toBe(502);
    expect(new NotFoundError("partner_not_found", "x").status).toBe(404);
    expect(new RuleViolationError("partner_not_found", "x").status).toBe(422);
    expect(new ForbiddenError("scope_missing", "x").status).toBe(403);
    expect(new ConflictError("x")).toMatchObject({ status: 409, code: "conflict" });
    expect(new InvalidRequestError("f", "is bad")).toMatchObject({
      status: 400,
      code: "invalid_request",
    });
    expect(new StoreUnavailableError("read", new Error("down"))).toMatchObject({
      status: 503,
      code: "store_unavailable",
      headers: { "Retry-After": "1" },
    });
  });

  it("refuse a status the code is never answered with", () => {
    // @ts-expect-error: leak_blocked is never a 404
    expect(() => new GatewayError("leak_blocked", "x", { status: 404 })).toThrow(
      "leak_blocked is never answered with 404",
    );
  });

  it("become problem details titled by their status's reason phrase", () => {
    const err = new GatewayError("leak_blocked", "the answer holds a marker", { status: 502 });
    expect(problemBody(err)).toEqual({
      type: "urn:dsg:problem:leak_blocked",
      title: "Bad Gateway",
      status: 502,
      detail: "the answer holds a marker",
      code: "leak_blocked",
    });
    const invalid = problemBody(new InvalidRequestError("limit", "is too large"));
    expect(invalid).toMatchObject({ title: "Bad Request", status: 400, code: "invalid_request" });
    expect(invalid.errors).toEqual([{ field: "limit", message: "is too large" }]);
  });
});

describe("the OpenAPI operations", () => {
  it("can name only codes of the table, each at one of its own statuses", () => {
    const teapot = "teapot";
    // @ts-expect-error: not a code of the table
    const unknown: ProblemRef = teapot;
    expect(unknown).toBe(teapot);
    expect(isProblemCode(teapot)).toBe(false);
    // @ts-expect-error: leak_blocked is never a 404
    expect(() => at(404, "leak_blocked")).toThrow("leak_blocked is never answered with 404");
    let named = 0;
    for (const op of operationSpecs()) {
      for (const ref of op.problems ?? []) {
        const [code, status] = typeof ref === "string" ? [ref, undefined] : [ref.code, ref.status];
        expect(isProblemCode(code), `${op.operationId}: ${code}`).toBe(true);
        if (status !== undefined) expect(statusesOf(code)).toContain(status);
        named++;
      }
    }
    expect(named).toBeGreaterThan(100);
  });

  it("document each code under a status the table gives it, with its title and meaning", () => {
    const doc = openapiDocument() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { responses: Record<string, unknown> };
    };
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, r] of Object.entries(op.responses)) {
          const ref = (r as { $ref?: string }).$ref;
          const response = (
            ref === undefined ? r : doc.components.responses[ref.split("/").pop() ?? ""]
          ) as { description: string; content?: Record<string, { schema: unknown }> };
          const media = response.content?.["application/problem+json"];
          if (media === undefined) continue;
          const parts = (media.schema as { allOf: { properties?: Record<string, unknown> }[] })
            .allOf;
          const code = parts[1]?.properties?.code as { enum: ProblemCode[] };
          for (const c of code.enum) {
            expect(statusesOf(c), `${method} ${path} ${status} ${c}`).toContain(Number(status));
            expect(response.description).toContain(
              `\`${c}\`: ${PROBLEMS[c].title} — ${PROBLEMS[c].about}`,
            );
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
  });
});
