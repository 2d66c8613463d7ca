/**
 * The structured log lines the alarms count (CloudWatch metric filters on
 * `$.code`): one line per leak block and per metering failure, never two.
 */
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../functions/log.ts";
import { json } from "../support/backends.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

const lines: Record<string, unknown>[] = [];
let t: TestGateway;
let eco: Ecosystem;

beforeAll(async () => {
  t = await createTestGateway({
    log: createLogger({ level: "info", write: (l) => lines.push(JSON.parse(l)) }),
  });
  eco = await createEcosystem(t);
});
afterAll(() => eco.close());

const count = (code: string) => lines.filter((l) => l.code === code).length;

describe("alarm log lines", () => {
  it("a leak block writes exactly one leak_blocked line, without the value", async () => {
    eco.provider.handler = json({ items: [{ vin: "CAL-424242" }] });
    const token = await eco.partnerToken(eco.ids.consumer);
    const before = count("leak_blocked");
    const res = await t.call("GET", `/v1/exchange/${eco.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing" },
    });
    expect(res.status).toBe(502);
    expect(count("leak_blocked")).toBe(before + 1);
    const line = lines.filter((l) => l.code === "leak_blocked").at(-1);
    expect(line).toMatchObject({
      level: "warn",
      agreement: eco.agreement,
      dataset: eco.ids.dataset,
      marker: 0,
    });
    expect(JSON.stringify(lines)).not.toContain("CAL-424242");
  });

  it("a store failure writes exactly one metering_unavailable line", async () => {
    eco.provider.handler = json({ items: [{ vin: "V" }] });
    const token = await eco.partnerToken(eco.ids.consumer);
    const before = count("metering_unavailable");
    const mock = mockClient(t.client);
    mock.onAnyCommand().rejects(Object.assign(new Error("down"), { name: "ServiceUnavailable" }));
    try {
      const res = await t.call("GET", `/v1/exchange/${eco.agreement}`, {
        token,
        headers: { "Data-Purpose": "insurance-pricing" },
      });
      expect(res.status).toBe(503);
    } finally {
      mock.restore();
    }
    expect(count("metering_unavailable")).toBe(before + 1);
    expect(lines.filter((l) => l.code === "metering_unavailable").at(-1)).toMatchObject({
      level: "error",
    });
  });
});
