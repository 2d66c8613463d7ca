/**
 * DPoP-bound tokens (issue of sender-constrained tokens) through issue 19's
 * paths: a read's retry answered from its kept body, a deliver's retry sent
 * again, and terms changed while the provider holds its answer (the exchange
 * is decided again on fresh state). Each request's proof is claimed exactly
 * once: a fresh proof on a retry works, a proof used again is refused
 * (also by another instance, where only the store's claim can tell), and an
 * exchange decided again never refuses its own proof.
 */
import { expect } from "vitest";
import { flowRowsOf } from "../metering/support.ts";
import { type DpopKey, dpopKey, proof } from "../support/dpop.ts";
import { type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { it } from "../support/fixtures.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

const ORIGIN = "http://localhost";
const purpose = { "Data-Purpose": "insurance-pricing" };

async function boundToken(t: TestGateway, e: Ecosystem, partner: string, k: DpopKey) {
  const res = await t.app.request("/oauth/token", {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${partner}:${e.secrets[partner]}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
      DPoP: await proof(k, { htm: "POST", htu: `${ORIGIN}/oauth/token` }),
    },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      scope: `agreement:${e.agreement}`,
    }).toString(),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A request with a DPoP-bound token and the given proof (a fresh one when none is given). */
async function send(
  gateway: TestGateway,
  e: Ecosystem,
  method: "GET" | "POST",
  token: string,
  k: DpopKey,
  options: { dpop?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const path = `/v1/exchange/${e.agreement}`;
  const dpop = options.dpop ?? (await proof(k, { htm: method, htu: `${ORIGIN}${path}`, token }));
  const res = await gateway.app.request(path, {
    method,
    headers: {
      Authorization: `DPoP ${token}`,
      DPoP: dpop,
      ...purpose,
      ...(options.body === undefined ? {} : { "Content-Type": "application/json" }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return { res, dpop };
}

async function expectReplayedProof(res: Response) {
  expect(res.status).toBe(401);
  expect(((await res.json()) as { code: string }).code).toBe("invalid_token");
  expect(res.headers.get("WWW-Authenticate")).toMatch(/^DPoP error="invalid_dpop_proof"/);
}

/** Another instance on the same tables and keys: it has not seen this process's proofs. */
const otherInstance = (t: TestGateway) =>
  createTestGateway({ client: t.client, tables: t.gw.db.tables, keys: t.gw.keys });

/** A provider that answers differently on every call. */
function changing(e: Ecosystem) {
  let calls = 0;
  e.provider.handler = (_req, res) => {
    calls++;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ items: RECORDS.map((r) => ({ ...r, mileage: r.mileage + calls })) }));
  };
}

it("a read's retry with a fresh proof answers the kept body; its proof used again is refused, nothing counted", async ({
  t,
  ecosystem,
}) => {
  const e = await ecosystem();
  changing(e);
  const k = await dpopKey();
  const token = await boundToken(t, e, e.ids.consumer, k);
  const key = { "Idempotency-Key": "dpop-read-1" };
  const first = await send(t, e, "GET", token, k, { headers: key });
  expect(first.res.status).toBe(200);
  const body = await first.res.text();
  const retry = await send(t, e, "GET", token, k, { headers: key });
  expect(retry.res.status).toBe(200);
  expect(await retry.res.text()).toBe(body);
  expect(e.provider.received).toHaveLength(1);
  await expectReplayedProof((await send(t, e, "GET", token, k, { ...retry, headers: key })).res);
  const other = await otherInstance(t);
  await expectReplayedProof(
    (await send(other, e, "GET", token, k, { ...retry, headers: key })).res,
  );
  expect(e.provider.received).toHaveLength(1);
  expect(await flowRowsOf(t, e.agreement)).toEqual([
    expect.objectContaining({ requests: 1, denied: 0, failed: 0 }),
  ]);
});

it("a deliver's retry with a fresh proof is sent again and counted once; its proof used again is refused", async ({
  t,
  ecosystem,
}) => {
  const e = await ecosystem();
  const k = await dpopKey();
  const token = await boundToken(t, e, e.ids.provider, k);
  const options = {
    headers: { "Idempotency-Key": "dpop-order-1" },
    body: JSON.stringify({ items: [{ vin: "VIN-9", mileage: 9 }] }),
  };
  expect((await send(t, e, "POST", token, k, options)).res.status).toBe(200);
  const retry = await send(t, e, "POST", token, k, options);
  expect(retry.res.status).toBe(200);
  expect(e.consumer.received).toHaveLength(2);
  // The retry's proof was claimed on its own (no metering transaction took it).
  const other = await otherInstance(t);
  await expectReplayedProof((await send(other, e, "POST", token, k, { ...options, ...retry })).res);
  expect(e.consumer.received).toHaveLength(2);
  expect(await flowRowsOf(t, e.agreement)).toEqual([
    expect.objectContaining({ requests: 1, denied: 0 }),
  ]);
});

it("terms amended while the provider holds its answer: decided and cut again, its own proof not refused", async ({
  t,
  ecosystem,
}) => {
  const e = await ecosystem();
  const k = await dpopKey();
  const token = await boundToken(t, e, e.ids.consumer, k);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let arrived!: () => void;
  const waiting = new Promise<void>((r) => {
    arrived = r;
  });
  const answer = e.provider.handler;
  e.provider.handler = async (req, res) => {
    arrived();
    await gate;
    await answer(req, res);
  };
  const pending = send(t, e, "GET", token, k);
  await waiting;
  const amended = await t.admin("PATCH", `/admin/agreements/${e.agreement}`, {
    fields: ["vin", "speed.avg"],
  });
  expect(amended.status).toBe(200);
  release();
  const { res } = await pending;
  expect(res.status).toBe(200);
  const body = await res.text();
  expect(body).toContain("VIN-1");
  expect(body).not.toContain("mileage");
  expect(e.provider.received).toHaveLength(1);
  expect(await flowRowsOf(t, e.agreement)).toEqual([
    expect.objectContaining({ requests: 1, records: 2, denied: 0 }),
  ]);
});
