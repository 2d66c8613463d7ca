/**
 * DPoP-bound tokens (RFC 9449) through the public surface: tokens from the
 * real token endpoint with a proof, then every refusal case of the contract
 * on reads and delivers (and the other routes that take a token), each
 * checked for what matters: 401 invalid_token with a DPoP challenge, the
 * backend never called, nothing metered.
 */
import { DynamoDBServiceException, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flowRowsOf } from "../metering/support.ts";
import { claimsOf, type DpopKey, dpopKey, proof } from "../support/dpop.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

const ORIGIN = "http://localhost";
let t: TestGateway;
let eco: Ecosystem;
let key: DpopKey;
let token: string;

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

/** A token for `partner` from the token endpoint, bound to `k` when given. */
async function tokenFor(
  gateway: TestGateway,
  partner: string,
  k: DpopKey | undefined,
  scope = `agreement:${eco.agreement}`,
): Promise<Response> {
  return gateway.app.request("/oauth/token", {
    method: "POST",
    headers: {
      Authorization: basic(partner, eco.secrets[partner] ?? ""),
      "Content-Type": "application/x-www-form-urlencoded",
      ...(k === undefined
        ? {}
        : { DPoP: await proof(k, { htm: "POST", htu: `${ORIGIN}/oauth/token` }) }),
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
  });
}

async function boundToken(partner: string, k: DpopKey): Promise<string> {
  const res = await tokenFor(t, partner, k);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string; token_type: string };
  expect(body.token_type).toBe("DPoP");
  return body.access_token;
}

const readPath = () => `/v1/exchange/${eco.agreement}`;

function read(headers: Record<string, string>, gateway = t, path = readPath()) {
  return gateway.app.request(path, {
    method: "GET",
    headers: { "Data-Purpose": "insurance-pricing", ...headers },
  });
}

async function expectDpopRefusal(res: Response, error = "invalid_dpop_proof") {
  expect(res.status).toBe(401);
  const body = (await res.json()) as { code: string };
  expect(body.code).toBe("invalid_token");
  expect(res.headers.get("WWW-Authenticate")).toMatch(new RegExp(`^DPoP error="${error}"`));
}

/** Released requests and denials of the flow, as finance sees them. */
async function counted(): Promise<{ requests: number; denied: number; blocked: number }> {
  const rows = await flowRowsOf(t, eco.agreement);
  return {
    requests: rows.reduce((n, r) => n + r.requests, 0),
    denied: rows.reduce((n, r) => n + r.denied, 0),
    blocked: rows.reduce((n, r) => n + r.blocked, 0),
  };
}

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
  key = await dpopKey();
  token = await boundToken(eco.ids.consumer, key);
});
afterAll(() => eco.close());

describe("the token endpoint with a DPoP proof", () => {
  it("issues a DPoP token bound to the proof's key (cnf.jkt, RFC 7638)", () => {
    expect(claimsOf(token).cnf).toEqual({ jkt: key.jkt });
  });

  it("without a proof, issues a Bearer token with no binding", async () => {
    const res = await tokenFor(t, eco.ids.consumer, undefined);
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("Bearer");
    expect(claimsOf(body.access_token).cnf).toBeUndefined();
  });

  it.each(["ES384", "EdDSA", "PS256", "RS256"])("takes a proof signed with %s", async (alg) => {
    const k = await dpopKey(alg);
    expect(claimsOf(await boundToken(eco.ids.consumer, k)).cnf).toEqual({ jkt: k.jkt });
  });

  const wrongProofs: [string, (k: DpopKey) => Promise<string>][] = [
    ["for another method", (k) => proof(k, { htm: "GET", htu: `${ORIGIN}/oauth/token` })],
    ["for another URL", (k) => proof(k, { htm: "POST", htu: `${ORIGIN}/oauth/other` })],
    [
      "issued 70 s ago",
      (k) =>
        proof(k, {
          htm: "POST",
          htu: `${ORIGIN}/oauth/token`,
          iat: Math.floor(Date.now() / 1000) - 70,
        }),
    ],
    [
      "without a jti",
      (k) => proof(k, { htm: "POST", htu: `${ORIGIN}/oauth/token`, claims: { jti: undefined } }),
    ],
    [
      "of another typ",
      (k) => proof(k, { htm: "POST", htu: `${ORIGIN}/oauth/token`, header: { typ: "JWT" } }),
    ],
    [
      "carrying a private key",
      async (k) => {
        const { exportJWK } = await import("jose");
        const priv = await exportJWK(k.privateKey);
        return proof(k, { htm: "POST", htu: `${ORIGIN}/oauth/token`, header: { jwk: priv } });
      },
    ],
    [
      "whose jwk is another key than the one that signed",
      async (k) => {
        const other = await dpopKey();
        return proof(k, { htm: "POST", htu: `${ORIGIN}/oauth/token`, header: { jwk: other.jwk } });
      },
    ],
  ];

  it.each(wrongProofs)("refuses a proof %s: 400 invalid_dpop_proof", async (_what, make) => {
    const res = await t.app.request("/oauth/token", {
      method: "POST",
      headers: {
        Authorization: basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
        "Content-Type": "application/x-www-form-urlencoded",
        DPoP: await make(key),
      },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_dpop_proof" });
  });

  it("refuses a proof used before", async () => {
    const dpop = await proof(key, { htm: "POST", htu: `${ORIGIN}/oauth/token` });
    const send = () =>
      t.app.request("/oauth/token", {
        method: "POST",
        headers: {
          Authorization: basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
          "Content-Type": "application/x-www-form-urlencoded",
          DPoP: dpop,
        },
        body: "grant_type=client_credentials",
      });
    expect((await send()).status).toBe(200);
    const again = await send();
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: "invalid_dpop_proof" });
  });
});

describe("requireDpop", () => {
  it("a partner that requires DPoP gets no token without a proof (400 invalid_dpop_proof)", async () => {
    const patched = await t.admin("PATCH", `/admin/partners/${eco.ids.provider}`, {
      requireDpop: true,
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ requireDpop: true });
    const refused = await tokenFor(t, eco.ids.provider, undefined);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "invalid_dpop_proof" });
    const bound = await tokenFor(t, eco.ids.provider, key);
    expect(bound.status).toBe(200);
    expect(await bound.json()).toMatchObject({ token_type: "DPoP" });
    // The consumer was not touched: Bearer tokens still for it.
    expect((await tokenFor(t, eco.ids.consumer, undefined)).status).toBe(200);
    const lifted = await t.admin("PATCH", `/admin/partners/${eco.ids.provider}`, {
      requireDpop: false,
    });
    expect(lifted.status).toBe(200);
    expect((await tokenFor(t, eco.ids.provider, undefined)).status).toBe(200);
  });
});

describe("a DPoP-bound token on the exchange", () => {
  const good = async (extra: Partial<Parameters<typeof proof>[1]> = {}) =>
    proof(key, { htm: "GET", htu: `${ORIGIN}${readPath()}`, token, ...extra });

  it("reads with a fresh proof for the request; the query is not part of htu", async () => {
    const before = await counted();
    const res = await read(
      { Authorization: `DPoP ${token}`, DPoP: await good() },
      t,
      `${readPath()}?day=2026-11-01`,
    );
    expect(res.status).toBe(200);
    expect(Number(res.headers.get("X-Records"))).toBeGreaterThan(0);
    expect((await counted()).requests).toBe(before.requests + 1);
  });

  it("a normalised htu matches: upper-case scheme and host, default port", async () => {
    const res = await read({
      Authorization: `DPoP ${token}`,
      DPoP: await good({ htu: `HTTP://LOCALHOST:80${readPath()}` }),
    });
    expect(res.status).toBe(200);
  });

  const refusals: [string, () => Promise<Record<string, string>>, string?][] = [
    ["no proof", async () => ({ Authorization: `DPoP ${token}` })],
    [
      "the bound token sent as Bearer",
      async () => ({ Authorization: `Bearer ${token}` }),
      "invalid_token",
    ],
    [
      "the bound token as Bearer with a proof",
      async () => ({ Authorization: `Bearer ${token}`, DPoP: await good() }),
      "invalid_token",
    ],
    [
      "a proof for POST",
      async () => ({ Authorization: `DPoP ${token}`, DPoP: await good({ htm: "POST" }) }),
    ],
    [
      "a proof for another URL",
      async () => ({
        Authorization: `DPoP ${token}`,
        DPoP: await good({ htu: `${ORIGIN}/v1/exchange/another-agreement` }),
      }),
    ],
    [
      "a proof for another host",
      async () => ({
        Authorization: `DPoP ${token}`,
        DPoP: await good({ htu: `https://evil.example${readPath()}` }),
      }),
    ],
    [
      "a proof issued 70 s ago",
      async () => ({
        Authorization: `DPoP ${token}`,
        DPoP: await good({ iat: Math.floor(Date.now() / 1000) - 70 }),
      }),
    ],
    [
      "a proof issued 30 s ahead",
      async () => ({
        Authorization: `DPoP ${token}`,
        DPoP: await good({ iat: Math.floor(Date.now() / 1000) + 30 }),
      }),
    ],
    [
      "a proof with the hash of another token",
      async () => ({ Authorization: `DPoP ${token}`, DPoP: await good({ token: `${token}x` }) }),
    ],
    [
      "a proof without ath",
      async () => ({
        Authorization: `DPoP ${token}`,
        DPoP: await good({ claims: { ath: undefined } }),
      }),
    ],
    [
      "a proof signed with another key",
      async () => ({
        Authorization: `DPoP ${token}`,
        DPoP: await proof(await dpopKey(), { htm: "GET", htu: `${ORIGIN}${readPath()}`, token }),
      }),
    ],
    [
      "two DPoP headers",
      async () => ({ Authorization: `DPoP ${token}`, DPoP: `${await good()}, ${await good()}` }),
    ],
  ];

  it.each(refusals)(
    "refuses %s: 401 with a DPoP challenge, the provider not called, nothing metered",
    async (_what, headers, error) => {
      const before = await counted();
      const calls = eco.provider.received.length;
      await expectDpopRefusal(await read(await headers()), error);
      expect(eco.provider.received.length).toBe(calls);
      expect(await counted()).toEqual(before);
    },
  );

  it("refuses a replayed proof on the same instance, before the provider is called", async () => {
    const headers = { Authorization: `DPoP ${token}`, DPoP: await good() };
    expect((await read(headers)).status).toBe(200);
    const before = await counted();
    const calls = eco.provider.received.length;
    await expectDpopRefusal(await read(headers));
    expect(eco.provider.received.length).toBe(calls);
    expect(await counted()).toEqual(before);
  });

  it("refuses a proof replayed to another instance (the store's claim), before the provider is called", async () => {
    const other = await createTestGateway({
      client: t.client,
      tables: t.gw.db.tables,
      keys: t.gw.keys,
    });
    const headers = { Authorization: `DPoP ${token}`, DPoP: await good() };
    expect((await read(headers)).status).toBe(200);
    const before = await counted();
    const calls = eco.provider.received.length;
    await expectDpopRefusal(await read(headers, other));
    expect(eco.provider.received.length).toBe(calls);
    expect(await counted()).toEqual(before);
  });

  it("a deliver's proof is claimed in its metering transaction: a replay elsewhere is refused, the consumer not called, nothing metered", async () => {
    const providerToken = await boundToken(eco.ids.provider, key);
    const body = JSON.stringify({ items: [{ vin: "VIN-9", mileage: 9 }] });
    const deliverProof = await proof(key, {
      htm: "POST",
      htu: `${ORIGIN}${readPath()}`,
      token: providerToken,
    });
    const deliver = (gateway: TestGateway) =>
      gateway.app.request(readPath(), {
        method: "POST",
        headers: {
          Authorization: `DPoP ${providerToken}`,
          DPoP: deliverProof,
          "Content-Type": "application/json",
          "Data-Purpose": "insurance-pricing",
        },
        body,
      });
    expect((await deliver(t)).status).toBe(200);
    const other = await createTestGateway({
      client: t.client,
      tables: t.gw.db.tables,
      keys: t.gw.keys,
    });
    const before = await counted();
    const delivered = eco.consumer.received.length;
    await expectDpopRefusal(await deliver(other));
    expect(eco.consumer.received.length).toBe(delivered);
    expect(await counted()).toEqual(before);
  });

  it("a deliver refused before its metering (a leak) claims its proof first: its replay counts nothing", async () => {
    const providerToken = await boundToken(eco.ids.provider, key);
    const leaking = JSON.stringify({ items: [{ vin: "CAL-123456", mileage: 1 }] });
    const dpop = await proof(key, {
      htm: "POST",
      htu: `${ORIGIN}${readPath()}`,
      token: providerToken,
    });
    const deliver = (gateway: TestGateway) =>
      gateway.app.request(readPath(), {
        method: "POST",
        headers: {
          Authorization: `DPoP ${providerToken}`,
          DPoP: dpop,
          "Content-Type": "application/json",
          "Data-Purpose": "insurance-pricing",
        },
        body: leaking,
      });
    const first = await deliver(t);
    expect(first.status).toBe(422);
    const before = await counted();
    const other = await createTestGateway({
      client: t.client,
      tables: t.gw.db.tables,
      keys: t.gw.keys,
    });
    await expectDpopRefusal(await deliver(other));
    expect(await counted()).toEqual(before);
  });

  it("an unbound token sent with the DPoP scheme is refused", async () => {
    const bearer = await eco.partnerToken(eco.ids.consumer);
    const res = await read({
      Authorization: `DPoP ${bearer}`,
      DPoP: await proof(key, { htm: "GET", htu: `${ORIGIN}${readPath()}`, token: bearer }),
    });
    await expectDpopRefusal(res, "invalid_token");
  });
});

describe("a DPoP-bound token on the other routes", () => {
  it("lists the partner's agreements with a proof, refuses a replay (own conditional write)", async () => {
    const headers = {
      Authorization: `DPoP ${token}`,
      DPoP: await proof(key, { htm: "GET", htu: `${ORIGIN}/v1/agreements`, token }),
    };
    expect((await t.app.request("/v1/agreements", { headers })).status).toBe(200);
    const other = await createTestGateway({
      client: t.client,
      tables: t.gw.db.tables,
      keys: t.gw.keys,
    });
    await expectDpopRefusal(await other.app.request("/v1/agreements", { headers }));
    await expectDpopRefusal(
      await t.app.request("/v1/agreements", { headers: { Authorization: `Bearer ${token}` } }),
      "invalid_token",
    );
  });

  it("lists transfers with one proof: the route authenticates once (a second check would see a replay)", async () => {
    const path = `/v1/transfers?agreement=${eco.agreement}`;
    const headers = {
      Authorization: `DPoP ${token}`,
      DPoP: await proof(key, { htm: "GET", htu: `${ORIGIN}/v1/transfers`, token }),
    };
    const res = await t.app.request(path, { headers });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ items: [] });
    await expectDpopRefusal(await t.app.request(path, { headers }));
  });

  it("an operator's and finance's bound tokens work on /admin and /metrics, with proofs", async () => {
    // A gateway of its own: the instances above re-issued the operator's secret.
    const g = await createTestGateway();
    for (const [client, secret, path, scope] of [
      ["operator", g.operatorSecret, "/admin/partners", "admin"],
      ["finance", g.financeSecret, "/metrics/flows", "metrics:read"],
    ] as const) {
      const res = await g.app.request("/oauth/token", {
        method: "POST",
        headers: {
          Authorization: basic(client, secret),
          "Content-Type": "application/x-www-form-urlencoded",
          DPoP: await proof(key, { htm: "POST", htu: `${ORIGIN}/oauth/token` }),
        },
        body: `grant_type=client_credentials&scope=${scope}`,
      });
      expect(res.status).toBe(200);
      const bound = ((await res.json()) as { access_token: string }).access_token;
      const ok = await g.app.request(path, {
        headers: {
          Authorization: `DPoP ${bound}`,
          DPoP: await proof(key, { htm: "GET", htu: `${ORIGIN}${path}`, token: bound }),
        },
      });
      expect(ok.status).toBe(200);
      await expectDpopRefusal(
        await g.app.request(path, { headers: { Authorization: `DPoP ${bound}` } }),
      );
    }
  });
});

describe("a store that cannot take the proof's claim", () => {
  /** Throttles the proof claims (conditional UpdateItems on DP# items) and nothing else. */
  async function withClaimsThrottled<T>(run: () => Promise<T>): Promise<T> {
    const client = t.client as unknown as { send: (command: unknown) => Promise<unknown> };
    const real = client.send.bind(t.client);
    client.send = async (command: unknown) => {
      if (
        command instanceof UpdateItemCommand &&
        String(command.input.Key?.pk?.S).startsWith("DP#")
      ) {
        throw new DynamoDBServiceException({
          name: "ThrottlingException",
          $fault: "client",
          $metadata: { httpStatusCode: 400 },
          message: "throttled",
        });
      }
      return real(command as never);
    };
    try {
      return await run();
    } finally {
      client.send = real;
    }
  }

  it("fails closed: a read answers 503 metering_unavailable, the provider not called, nothing counted", async () => {
    const before = await counted();
    const calls = eco.provider.received.length;
    const res = await withClaimsThrottled(async () =>
      read({
        Authorization: `DPoP ${token}`,
        DPoP: await proof(key, { htm: "GET", htu: `${ORIGIN}${readPath()}`, token }),
      }),
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe("metering_unavailable");
    expect(eco.provider.received.length).toBe(calls);
    expect((await counted()).requests).toBe(before.requests);
  });

  it("fails closed elsewhere: 503 store_unavailable", async () => {
    const res = await withClaimsThrottled(async () =>
      t.app.request("/v1/agreements", {
        headers: {
          Authorization: `DPoP ${token}`,
          DPoP: await proof(key, { htm: "GET", htu: `${ORIGIN}/v1/agreements`, token }),
        },
      }),
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe("store_unavailable");
  });
});
