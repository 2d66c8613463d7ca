/**
 * The store failing at every call site outside the exchange (which the
 * metering suite covers): throttled, timed out, access denied, table
 * missing. Each answers its surface's 503, never an allow, never a 500.
 */
import { DynamoDBServiceException } from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.ts";
import type { TestGateway } from "../support/gateway.ts";

const fault = (name: string, status: number) =>
  new DynamoDBServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    message: name,
  });

const FAULTS = [
  ["throttling", () => fault("ThrottlingException", 400)],
  ["provisioned throughput exceeded", () => fault("ProvisionedThroughputExceededException", 400)],
  ["a timeout", () => Object.assign(new Error("socket hang up"), { name: "TimeoutError" })],
  ["access denied", () => fault("AccessDeniedException", 400)],
  ["a missing table", () => fault("ResourceNotFoundException", 400)],
  ["an internal error", () => fault("InternalServerError", 500)],
] as const;

async function withStoreDown<T>(
  t: TestGateway,
  makeError: () => Error,
  run: () => Promise<T>,
): Promise<T> {
  const mock = mockClient(t.client);
  mock.onAnyCommand().rejects(makeError());
  try {
    return await run();
  } finally {
    mock.restore();
  }
}

describe.each(FAULTS)("with %s at every store call", (_what, makeError) => {
  it("the token endpoint answers 503 temporarily_unavailable", async ({ t, eco }) => {
    const res = await withStoreDown(t, makeError, async () =>
      t.app.request("/oauth/token", {
        method: "POST",
        headers: {
          Authorization: `Basic ${Buffer.from(`${eco.ids.consumer}:${eco.secrets[eco.ids.consumer]}`).toString("base64")}`,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: "grant_type=client_credentials",
      }),
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "temporarily_unavailable" });
  });

  it("operators get 503 and nothing changes", async ({ t, eco }) => {
    const list = await withStoreDown(t, makeError, () => t.admin("GET", "/admin/partners"));
    expect(list.status).toBe(503);
    expect(list.headers.get("Content-Type")).toMatch(/problem\+json/);
    expect(await list.json()).toMatchObject({ code: "store_unavailable" });
    const revoke = await withStoreDown(t, makeError, () =>
      t.admin("POST", `/admin/partners/${eco.ids.consumer}/revoke`, { reason: "store down" }),
    );
    expect(revoke.status).toBe(503);
    const after = (await (await t.admin("GET", `/admin/partners/${eco.ids.consumer}`)).json()) as {
      status: string;
    };
    expect(after.status).toBe("active");
  });

  it("finance and health get 503", async ({ t }) => {
    const finance = await t.token("finance", ["metrics:read"]);
    const flows = await withStoreDown(t, makeError, () =>
      t.call("GET", "/metrics/flows", { token: finance }),
    );
    expect(flows.status).toBe(503);
    const health = await withStoreDown(t, makeError, () => t.call("GET", "/health"));
    expect(health.status).toBe(503);
  });

  it("an exchange gets 503 metering_unavailable and the provider is never called", async ({
    t,
    eco,
  }) => {
    const token = await eco.partnerToken(eco.ids.consumer);
    const calls = eco.provider.received.length;
    const res = await withStoreDown(t, makeError, () =>
      t.call("GET", `/v1/exchange/${eco.agreement}`, {
        token,
        headers: { "Data-Purpose": "insurance-pricing" },
      }),
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "metering_unavailable" });
    expect(eco.provider.received.length).toBe(calls);
  });
});
