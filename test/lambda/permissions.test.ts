/**
 * Permissions proven by behaviour: the synthesized stack's functions run a
 * whole ecosystem's life (scenario.ts) as bundled, each in its own worker
 * with the template's environment, and every AWS call each one makes is
 * recorded by SDK middleware. Each role must be granted exactly what its
 * function called: nothing missing (AWS would answer AccessDenied, which no
 * local store enforces) and nothing unused.
 *
 * Not counted: what the Lambda service itself does with the events role
 * (reading the outbox stream, sending failed batches to their queue), which
 * the event source mapping grants and test/infra/iam.test.ts pins; logs and
 * X-Ray.
 */
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES, type FunctionName } from "../../infra/bundling.ts";
import { deployLocally, type LocalDeployment, roleOf } from "./deployment.ts";
import type { RecordedCall } from "./host.ts";
import { compare, type Need, needsOf } from "./permissions.ts";
import { runScenario, type ScenarioFacts } from "./scenario.ts";
import { grantsOf } from "./template.ts";

/** Granted for the Lambda service's event source mapping, not for the handler. */
const SERVICE_SIDE =
  /^(dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)|sqs:|logs:|xray:)/;

let d: LocalDeployment;
let facts: ScenarioFacts;
let calls: Record<string, RecordedCall[]>;

beforeAll(async () => {
  d = await deployLocally({ stage: "dev" });
  facts = await runScenario(d);
  calls = await d.takeCalls();
}, 300_000);

afterAll(() => d?.close());

describe("permissions proven by behaviour", () => {
  it("the scenario reached every function of the stack", () => {
    expect([...facts.invoked].sort()).toEqual([...d.names].sort());
    for (const name of d.names) expect(calls[name]?.length, name).toBeGreaterThan(0);
  });

  it.each(FUNCTION_NAMES)("%s is granted exactly what it called", (name) => {
    if (!d.names.includes(name as FunctionName)) throw new Error(`no ${name} function`);
    const needs: Need[] = (calls[name] ?? []).flatMap((c) =>
      needsOf(c, {
        table: d.tableLogicalId,
        key: d.keyLogicalId,
        bucket: d.bucketLogicalId,
        function: d.functionLogicalId,
      }),
    );
    const grants = grantsOf(d.synthesized.template, roleOf(d, name as FunctionName)).filter(
      (g) => !SERVICE_SIDE.test(g.action),
    );
    expect(compare(needs, grants)).toEqual({ missing: [], unused: [] });
  });
});

describe("one key per purpose", () => {
  const kidOf = (jws: string) => String(decodeProtectedHeader(jws).kid);

  it("access tokens, gateway JWTs and events are signed by three keys, all published", () => {
    expect(facts.gatewayJwt).toMatch(/^ey/);
    expect(facts.eventJws).toMatch(/^ey/);
    const kids = [facts.accessToken, facts.gatewayJwt, facts.eventJws].map(kidOf);
    expect(new Set(kids).size).toBe(3);
    expect([...facts.publishedKids].sort()).toEqual([...kids].sort());
    expect(decodeProtectedHeader(facts.gatewayJwt).typ).toBe("gateway+jwt");
    expect(decodeProtectedHeader(facts.eventJws).typ).toBe("gateway-event+jwt");
  });

  it("a gateway JWT or a signed event is never accepted as an access token", async () => {
    for (const forged of [facts.gatewayJwt, facts.eventJws]) {
      for (const target of ["/v1/usage", "/admin/partners", "/metrics/flows"]) {
        const res = await d.request("GET", target, {
          headers: { authorization: `Bearer ${forged}` },
        });
        expect(res.statusCode, `${target} ${res.body}`).toBe(401);
        expect(res.json).toMatchObject({ code: "invalid_token" });
      }
    }
    const ok = await d.request("GET", "/v1/usage", {
      headers: { authorization: `Bearer ${facts.accessToken}` },
    });
    expect(ok.statusCode).toBe(200);
  });
});
