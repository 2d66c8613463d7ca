/**
 * One ecosystem's life through the deployed API, touching every route of
 * every function and the branches that call AWS differently: tokens by
 * secret and by client assertion (and a replayed one), with and without a
 * scope; reads (pseudonymised, repeated with an Idempotency-Key, over quota,
 * refused by policy, blocked for a leak), a large read kept in the object
 * store and answered again from there, then fetched anew after an amendment
 * (its old object deleted); delivers (accepted, and refused by the consumer
 * so the metering is reversed); the operators' whole surface; finance;
 * credential rotations ending the tokens issued before them; a partner
 * phased out who attests; a revoked partner attested for; and the event
 * deliveries: fan-out to more than 99 counterparties, and a delivery that
 * fails for good; large transfers run by the worker (transfer-steps.ts).
 */
import { createHash } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { expect } from "vitest";
import { csrfTokenOf } from "../../functions/console/http.ts";
import { OFFER } from "../catalog/helpers.ts";
import { type Handler, json, startBackend, type TestBackend } from "../support/backends.ts";
import { agreementInput, datasetInput, RECORDS } from "../support/ecosystem.ts";
import { ISSUER, type LocalDeployment } from "./deployment.ts";
import { runTransferSteps } from "./transfer-steps.ts";

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

export interface ScenarioFacts {
  /** Functions whose handler the scenario invoked. */
  readonly invoked: Set<string>;
  /** What the gateway signed with its other keys, as partner backends received it. */
  readonly gatewayJwt: string;
  readonly eventJws: string;
  /** The kids the JWKS published. */
  readonly publishedKids: string[];
  /** An access token and the operator's. */
  readonly accessToken: string;
  readonly adminToken: string;
}

export async function runScenario(d: LocalDeployment): Promise<ScenarioFacts> {
  const invoked = new Set<string>();
  const backends: TestBackend[] = [];
  const backend = async (handler: Handler) => {
    const b = await startBackend(handler);
    backends.push(b);
    return b;
  };
  const call = async (
    method: string,
    target: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const res = await d.request(method, target, {
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers,
      },
      ...(options.body === undefined
        ? {}
        : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }),
    });
    invoked.add(res.function);
    return res;
  };
  const expectStatus = async (
    status: number,
    method: string,
    target: string,
    options?: Parameters<typeof call>[2],
  ) => {
    const res = await call(method, target, options);
    expect(res.statusCode, `${method} ${target}: ${res.body}`).toBe(status);
    return res;
  };
  const tokenRequest = (form: Record<string, string>, authorization?: string) =>
    call("POST", "/oauth/token", {
      body: new URLSearchParams(form).toString(),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(authorization === undefined ? {} : { authorization }),
      },
    });
  const token = async (id: string, secret: string, scope?: string) => {
    const res = await tokenRequest(
      { grant_type: "client_credentials", ...(scope === undefined ? {} : { scope }) },
      basic(id, secret),
    );
    expect(res.statusCode, res.body).toBe(200);
    return (res.json as { access_token: string }).access_token;
  };

  try {
    // ---------------------------------------------------------- public meta routes
    await expectStatus(200, "GET", "/health");
    const jwks = await expectStatus(200, "GET", "/.well-known/jwks.json");
    expect((jwks.json as { keys: unknown[] }).keys.length).toBeGreaterThanOrEqual(1);
    await expectStatus(200, "GET", "/.well-known/oauth-authorization-server");
    await expectStatus(200, "GET", "/openapi.json");
    await expectStatus(200, "GET", "/docs");
    await expectStatus(404, "GET", "/wp-login.php");

    const admin = await token("operator", d.operatorSecret, "admin");
    const finance = await token("finance", d.financeSecret, "metrics:read");

    // ---------------------------------------------------------- partners and keys
    let leak = false;
    // Over the 32 KiB a claim keeps inline once cut: kept in the object store.
    const large = Array.from({ length: 800 }, (_, i) => ({
      vin: `VIN-L${i}`,
      mileage: i,
      speed: { avg: 50, max: 100 },
      driver: { name: "Anna", license: "L-1" },
    }));
    const provider = await backend((req, res) =>
      json({
        items: leak
          ? [{ ...RECORDS[0], vin: "CAL-999999" }]
          : req.url.startsWith("/telemetry/large")
            ? large
            : RECORDS,
      })(req, res),
    );
    let consumerFails = false;
    const consumer = await backend((req, res) =>
      consumerFails && !req.url.endsWith("/gateway-events")
        ? json({ error: "down" }, 500)(req, res)
        : json({ accepted: true })(req, res),
    );
    const leaver = await backend(json({ accepted: true }));
    const down = await backend(json({ error: "down" }, 503));
    const ids = {
      provider: "lp-fleet",
      consumer: "lp-insure",
      leaver: "lp-leaver",
      gone: "lp-gone",
    };
    const secrets: Record<string, string> = {};
    for (const [id, jurisdiction, b] of [
      [ids.provider, "SE", provider],
      [ids.consumer, "DE", consumer],
      [ids.leaver, "FR", leaver],
      [ids.gone, "NO", down],
    ] as const) {
      const res = await expectStatus(201, "POST", "/admin/partners", {
        token: admin,
        body: { id, name: `Partner ${id}`, jurisdiction, baseUrl: b.url },
      });
      secrets[id] = (res.json as { clientSecret: string }).clientSecret;
    }
    await expectStatus(409, "POST", "/admin/partners", {
      token: admin,
      body: { id: ids.provider, name: "again", jurisdiction: "SE", baseUrl: provider.url },
    });
    await expectStatus(200, "GET", "/admin/partners?limit=2", { token: admin });
    await expectStatus(200, "GET", `/admin/partners/${ids.provider}`, { token: admin });
    await expectStatus(404, "GET", "/admin/partners/nobody-here", { token: admin });
    await expectStatus(200, "PATCH", `/admin/partners/${ids.consumer}`, {
      token: admin,
      body: { name: "Insure Co", reason: "rename" },
    });
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const publicJwk = { ...(await exportJWK(publicKey)), kid: "ci-1", alg: "ES256" };
    await expectStatus(200, "PUT", `/admin/partners/${ids.consumer}/keys`, {
      token: admin,
      body: { keys: [publicJwk] },
    });

    // ---------------------------------------------------------- datasets, rules, agreements
    const dataset = "lp-telemetry";
    await expectStatus(201, "POST", "/admin/datasets", {
      token: admin,
      body: datasetInput(dataset, ids.provider),
    });
    await expectStatus(200, "GET", "/admin/datasets", { token: admin });
    await expectStatus(200, "GET", `/admin/datasets/${dataset}`, { token: admin });
    await expectStatus(200, "PUT", `/admin/datasets/${dataset}`, {
      token: admin,
      body: datasetInput(dataset, ids.provider, {
        exportControl: { allowedJurisdictions: ["SE", "DE", "FR", "NO", "DK"] },
      }),
    });
    await expectStatus(200, "GET", "/admin/trade-rules", { token: admin });
    await expectStatus(200, "PUT", "/admin/trade-rules", {
      token: admin,
      body: { embargoedJurisdictions: ["KP"], deniedParties: [] },
    });
    const agr = "lp-agr";
    const quotaAgr = "lp-agr-quota";
    const leaverAgr = "lp-agr-leaver";
    const goneAgr = "lp-agr-gone";
    for (const [id, consumerId, extra] of [
      [agr, ids.consumer, { pseudonymize: ["driver.name"] }],
      [quotaAgr, ids.consumer, { quota: { requestsPerDay: 1 } }],
      [leaverAgr, ids.leaver, {}],
      [goneAgr, ids.gone, {}],
    ] as const) {
      await expectStatus(201, "POST", "/admin/agreements", {
        token: admin,
        body: agreementInput(id, ids.provider, consumerId, dataset, extra),
      });
    }
    await expectStatus(200, "GET", `/admin/agreements?partner=${ids.consumer}`, { token: admin });
    await expectStatus(200, "GET", "/admin/agreements", { token: admin });
    await expectStatus(200, "GET", `/admin/agreements/${agr}`, {
      token: admin,
      headers: { accept: "application/ld+json" },
    });
    await expectStatus(200, "PATCH", `/admin/agreements/${agr}`, {
      token: admin,
      body: { price: { currency: "EUR", perRequest: 50, perRecord: 1000 }, reason: "reprice" },
    });
    await expectStatus(200, "GET", `/admin/agreements/${agr}/versions`, { token: admin });
    await expectStatus(200, "POST", "/admin/decisions", {
      token: admin,
      body: { partner: ids.consumer, agreement: agr, action: "read", purpose: "insurance-pricing" },
    });
    await expectStatus(200, "GET", "/admin/flows", { token: admin });
    await expectStatus(200, "GET", "/admin/flows?format=mermaid", { token: admin });
    const client = await expectStatus(201, "POST", "/admin/clients", {
      token: admin,
      body: { id: "lp-ops-2", role: "admin" },
    });
    expect((client.json as { clientSecret: string }).clientSecret).toBeTruthy();
    const ops2 = await token(
      "lp-ops-2",
      (client.json as { clientSecret: string }).clientSecret,
      "admin",
    );
    await expectStatus(200, "POST", "/admin/clients/lp-ops-2/credentials", { token: admin });
    // The rotation ended the token issued under the old secret.
    const ended = await expectStatus(401, "GET", "/admin/partners", { token: ops2 });
    expect(ended.json).toMatchObject({ code: "invalid_token" });

    // ---------------------------------------------------------- tokens
    await expectStatus(401, "POST", "/oauth/token", {
      body: "grant_type=client_credentials",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(ids.consumer, "wrong-secret"),
      },
    });
    const consumerToken = await token(
      ids.consumer,
      secrets[ids.consumer] ?? "",
      `agreement:${agr}`,
    );
    // No scope: every active agreement of the partner (its agreement list).
    await token(ids.consumer, secrets[ids.consumer] ?? "");
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "ci-1" })
      .setIssuer(ids.consumer)
      .setSubject(ids.consumer)
      .setAudience(`${ISSUER}/oauth/token`)
      .setIssuedAt()
      .setExpirationTime("2m")
      .setJti(`lp-${Date.now()}`)
      .sign(privateKey);
    const byAssertion = {
      grant_type: "client_credentials",
      scope: `agreement:${quotaAgr}`,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: assertion,
    };
    const asserted = await tokenRequest(byAssertion);
    expect(asserted.statusCode, asserted.body).toBe(200);
    const quotaToken = (asserted.json as { access_token: string }).access_token;
    const replayed = await tokenRequest(byAssertion);
    expect(replayed.statusCode).toBe(401);
    const providerToken = await token(
      ids.provider,
      secrets[ids.provider] ?? "",
      `agreement:${agr}`,
    );

    // ---------------------------------------------------------- exchanges
    const purpose = { "data-purpose": "insurance-pricing" };
    const read = await expectStatus(200, "GET", `/v1/exchange/${agr}`, {
      token: consumerToken,
      headers: purpose,
    });
    expect(read.body).not.toContain("CAL-");
    expect(read.body).not.toContain("Anna");
    for (let i = 0; i < 2; i++)
      await expectStatus(200, "GET", `/v1/exchange/${agr}/daily?day=1`, {
        token: consumerToken,
        headers: { ...purpose, "idempotency-key": "lp-idem-1" },
      });
    // A large read with an Idempotency-Key: its body kept in the object
    // store, a retry answered from there without calling the provider.
    const largeRead = () =>
      expectStatus(200, "GET", `/v1/exchange/${agr}/large`, {
        token: consumerToken,
        headers: { ...purpose, "idempotency-key": "lp-idem-large" },
      });
    const largeCalls = () => provider.received.filter((r) => r.url.startsWith("/telemetry/large"));
    const kept = async () => d.objects.list(`replays/${agr}/`, "scenario");
    const firstLarge = await largeRead();
    expect(firstLarge.body.length).toBeGreaterThan(32 * 1024);
    expect((await largeRead()).body).toBe(firstLarge.body);
    expect(largeCalls()).toHaveLength(1);
    const [keptFirst, ...more] = await kept();
    expect(more).toEqual([]);
    // Terms amended: the same key is decided, fetched and metered anew, the old body deleted.
    await expectStatus(200, "PATCH", `/admin/agreements/${agr}`, {
      token: admin,
      body: { price: { currency: "EUR", perRequest: 60, perRecord: 1000 }, reason: "reprice" },
    });
    await largeRead();
    expect(largeCalls()).toHaveLength(2);
    const keptNow = await kept();
    expect(keptNow).toHaveLength(1);
    expect(keptNow[0]?.key).not.toBe(keptFirst?.key);
    await expectStatus(403, "GET", `/v1/exchange/${agr}`, {
      token: consumerToken,
      headers: { "data-purpose": "marketing" },
    });
    await expectStatus(200, "GET", `/v1/exchange/${quotaAgr}`, {
      token: quotaToken,
      headers: purpose,
    });
    await expectStatus(429, "GET", `/v1/exchange/${quotaAgr}`, {
      token: quotaToken,
      headers: purpose,
    });
    leak = true;
    await expectStatus(502, "GET", `/v1/exchange/${agr}`, {
      token: consumerToken,
      headers: purpose,
    });
    leak = false;
    await expectStatus(200, "POST", `/v1/exchange/${agr}`, {
      token: providerToken,
      headers: purpose,
      body: { items: [{ vin: "VIN-9", mileage: 9 }] },
    });
    consumerFails = true;
    await expectStatus(502, "POST", `/v1/exchange/${agr}`, {
      token: providerToken,
      headers: purpose,
      body: { items: [{ vin: "VIN-8", mileage: 8 }] },
    });
    consumerFails = false;
    await expectStatus(405, "DELETE", `/v1/exchange/${agr}`, { token: consumerToken });
    await expectStatus(200, "GET", "/v1/agreements", { token: consumerToken });
    await expectStatus(200, "GET", "/v1/usage", { token: consumerToken });
    await expectStatus(401, "GET", "/v1/usage");

    // ---------------------------------------------------------- large transfers
    await runTransferSteps(d, expectStatus, provider, {
      agreement: agr,
      purpose: purpose["data-purpose"],
      consumerToken,
      providerToken,
      adminToken: admin,
    });
    invoked.add("transferWorker");

    // ---------------------------------------------------------- self-service
    const providerCatalog = await token(ids.provider, secrets[ids.provider] ?? "", "catalog");
    const consumerCatalog = await token(ids.consumer, secrets[ids.consumer] ?? "", "catalog");
    const offer = (
      await expectStatus(201, "POST", `/v1/datasets/${dataset}/offers`, {
        token: providerCatalog,
        body: OFFER,
      })
    ).json as { id: string };
    await expectStatus(200, "GET", `/v1/datasets/${dataset}/offers`, { token: providerCatalog });
    await expectStatus(200, "GET", "/v1/catalog", { token: consumerCatalog });
    await expectStatus(200, "GET", "/v1/catalog", {
      token: consumerCatalog,
      headers: { accept: "application/ld+json" },
    });
    const requested = [];
    for (let i = 0; i < 3; i++) {
      const res = await expectStatus(201, "POST", "/v1/agreement-requests", {
        token: consumerCatalog,
        body: { offer: offer.id },
      });
      requested.push((res.json as { id: string }).id);
    }
    await expectStatus(200, "GET", "/v1/agreement-requests", { token: consumerCatalog });
    await expectStatus(200, "GET", `/v1/agreement-requests/${requested[0]}`, {
      token: providerCatalog,
    });
    const approved = await expectStatus(
      200,
      "POST",
      `/v1/agreement-requests/${requested[0]}/approve`,
      {
        token: providerCatalog,
        body: { reason: "welcome" },
      },
    );
    expect(approved.json).toMatchObject({ state: "agreed" });
    await expectStatus(200, "POST", `/v1/agreement-requests/${requested[1]}/reject`, {
      token: providerCatalog,
      body: { reason: "not now" },
    });
    await expectStatus(200, "POST", `/v1/agreement-requests/${requested[2]}/cancel`, {
      token: consumerCatalog,
      body: { reason: "changed our mind" },
    });
    await expectStatus(409, "POST", `/v1/agreement-requests/${requested[2]}/approve`, {
      token: providerCatalog,
      body: { reason: "too late" },
    });
    await expectStatus(200, "DELETE", `/v1/datasets/${dataset}/offers/${offer.id}`, {
      token: providerCatalog,
    });

    // ---------------------------------------------------------- finance
    await expectStatus(200, "GET", "/metrics/flows?granularity=total", { token: finance });
    await expectStatus(200, "GET", "/metrics/flows?groupBy=provider", {
      token: finance,
      headers: { accept: "text/csv" },
    });
    await expectStatus(200, "GET", "/metrics/attribution", { token: finance });
    await expectStatus(200, "GET", "/metrics/reconcile", { token: finance });
    await expectStatus(403, "GET", "/metrics/flows", { token: consumerToken });
    // Periods: a closer client (metrics:close, granted by an operator) closes
    // a past month once; the statement is read back as kept.
    const closerClient = await expectStatus(201, "POST", "/admin/clients", {
      token: admin,
      body: { id: "lp-closer", role: "metrics:close" },
    });
    const closer = await token(
      "lp-closer",
      (closerClient.json as { clientSecret: string }).clientSecret,
      "metrics:close",
    );
    const closed = await expectStatus(200, "POST", "/metrics/periods/2020-01/close", {
      token: closer,
    });
    await expectStatus(409, "POST", "/metrics/periods/2020-01/close", { token: closer });
    await expectStatus(403, "POST", "/metrics/periods/2020-02/close", { token: finance });
    const keptStatement = await expectStatus(200, "GET", "/metrics/statements?period=2020-01", {
      token: finance,
    });
    expect(createHash("sha256").update(keptStatement.body).digest("hex")).toBe(
      (closed.json as { sha256: string }).sha256,
    );
    await expectStatus(200, "GET", "/metrics/statements?period=2020-01", {
      token: finance,
      headers: { accept: "text/csv" },
    });

    // ---------------------------------------------------------- DPoP-bound tokens
    // Every function that takes access tokens claims a proof's jti (the
    // exchange beside its state read and in its metering transaction).
    const dpopKey = await generateKeyPair("ES256");
    const dpopJwk = await exportJWK(dpopKey.publicKey);
    const proofFor = (htm: string, path: string, accessToken?: string) =>
      new SignJWT({
        htm,
        htu: `${ISSUER}${path}`,
        jti: crypto.randomUUID(),
        ...(accessToken === undefined
          ? {}
          : { ath: createHash("sha256").update(accessToken).digest("base64url") }),
      })
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: dpopJwk })
        .setIssuedAt()
        .sign(dpopKey.privateKey);
    const boundToken = async (id: string, secret: string, scope: string) => {
      const res = await call("POST", "/oauth/token", {
        body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: basic(id, secret),
          dpop: await proofFor("POST", "/oauth/token"),
        },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json).toMatchObject({ token_type: "DPoP" });
      return (res.json as { access_token: string }).access_token;
    };
    const withProof = async (method: string, path: string, accessToken: string) => ({
      authorization: `DPoP ${accessToken}`,
      dpop: await proofFor(method, path.split("?")[0] ?? path, accessToken),
    });
    const boundAdmin = await boundToken("operator", d.operatorSecret, "admin");
    await expectStatus(200, "GET", "/admin/partners", {
      headers: await withProof("GET", "/admin/partners", boundAdmin),
    });
    const boundFinance = await boundToken("finance", d.financeSecret, "metrics:read");
    await expectStatus(200, "GET", "/metrics/attribution", {
      headers: await withProof("GET", "/metrics/attribution", boundFinance),
    });
    const boundCatalog = await boundToken(ids.consumer, secrets[ids.consumer] ?? "", "catalog");
    await expectStatus(200, "GET", "/v1/catalog", {
      headers: await withProof("GET", "/v1/catalog", boundCatalog),
    });
    const boundConsumer = await boundToken(
      ids.consumer,
      secrets[ids.consumer] ?? "",
      `agreement:${agr}`,
    );
    await expectStatus(200, "GET", `/v1/exchange/${agr}`, {
      headers: { ...purpose, ...(await withProof("GET", `/v1/exchange/${agr}`, boundConsumer)) },
    });
    const boundProvider = await boundToken(
      ids.provider,
      secrets[ids.provider] ?? "",
      `agreement:${agr}`,
    );
    await expectStatus(200, "POST", `/v1/exchange/${agr}`, {
      headers: { ...purpose, ...(await withProof("POST", `/v1/exchange/${agr}`, boundProvider)) },
      body: { items: [{ vin: "VIN-6", mileage: 6 }] },
    });
    // The transfers function claims a bound token's proof too (and then finds no such transfer).
    await expectStatus(404, "GET", "/v1/transfers/trf-none", {
      headers: await withProof("GET", "/v1/transfers/trf-none", boundConsumer),
    });

    // ---------------------------------------------------------- lifecycle
    for (const step of ["suspend", "resume"])
      await expectStatus(200, "POST", `/admin/partners/${ids.consumer}/${step}`, {
        token: admin,
        body: { reason: `lp ${step}` },
      });
    for (const step of ["suspend", "resume"])
      await expectStatus(200, "POST", `/admin/agreements/${agr}/${step}`, {
        token: admin,
        body: { reason: `lp ${step}` },
      });
    const rotated = await expectStatus(200, "POST", `/admin/partners/${ids.consumer}/credentials`, {
      token: admin,
    });
    // Tokens issued before the rotation end at once; the new secret works.
    const endedRead = await expectStatus(401, "GET", `/v1/exchange/${agr}`, {
      token: consumerToken,
      headers: purpose,
    });
    expect(endedRead.json).toMatchObject({ code: "invalid_token" });
    secrets[ids.consumer] = (rotated.json as { clientSecret: string }).clientSecret;
    const rotatedToken = await token(ids.consumer, secrets[ids.consumer] ?? "", `agreement:${agr}`);
    await expectStatus(200, "GET", `/v1/exchange/${agr}`, {
      token: rotatedToken,
      headers: purpose,
    });
    // A phased-out partner gets only `attestation` and attests its deletion itself.
    await expectStatus(200, "POST", `/admin/partners/${ids.leaver}/phase-out`, {
      token: admin,
      body: { at: new Date(Date.now() - 1000).toISOString(), reason: "leaving" },
    });
    const leaverToken = await token(ids.leaver, secrets[ids.leaver] ?? "");
    await expectStatus(201, "POST", "/v1/attestations", {
      token: leaverToken,
      body: { agreement: leaverAgr, deletedAt: new Date().toISOString(), statement: "deleted" },
    });
    // A revoked partner cannot post; an operator records its attestation.
    await expectStatus(200, "POST", `/admin/partners/${ids.gone}/revoke`, {
      token: admin,
      body: { reason: "breach" },
    });
    await expectStatus(201, "POST", `/admin/partners/${ids.gone}/attestations`, {
      token: admin,
      body: { agreement: goneAgr, deletedAt: new Date().toISOString(), statement: "confirmed" },
    });
    await expectStatus(200, "GET", `/admin/partners/${ids.gone}/exit`, { token: admin });
    await expectStatus(200, "POST", `/admin/partners/${ids.gone}/reinstate`, {
      token: admin,
      body: { reason: "resolved" },
    });
    await expectStatus(200, "POST", `/admin/agreements/${goneAgr}/terminate`, {
      token: admin,
      body: { reason: "ended" },
    });

    // ---------------------------------------------------------- events
    await seedHub(d, provider.url);
    const events = d.functions.events;
    if (events === undefined) throw new Error("no events function");
    const tick = { source: "gateway.outbox-retry-tick" };
    const first = (await events.invoke(tick)) as { events: number; attempts: number };
    invoked.add("events");
    expect(first.events).toBeGreaterThan(0);
    expect(first.attempts).toBeGreaterThan(0);
    // A delivery on its last attempt to a backend that stays down fails for good.
    await seedLastAttempt(d, ids.gone);
    // Ticks until it is attempted (each attempts up to 50 due deliveries, oldest first).
    let failedForGood: string[] = [];
    for (let tick = 0; tick < 6 && failedForGood.length === 0; tick++) {
      await events.invoke({ Records: [] });
      // Every attempt used: logged for the alarm that tells operators.
      failedForGood = (await events.takeLogs()).filter((l) =>
        l.includes('"code":"event_delivery_failed"'),
      );
    }
    expect(failedForGood.length).toBeGreaterThan(0);
    expect(failedForGood.join("\n")).toContain(ids.gone);
    await expectStatus(200, "GET", "/admin/deliveries?state=failed", { token: admin });
    await expectStatus(200, "GET", "/admin/deliveries", { token: admin });

    // ---------------------------------------------------------- the console
    // Signing in needs Cognito; a session as the callback stores it, then the
    // console through the admin function: its start page, and signing out.
    const sessionId = await d.store.sessions.create(
      {
        actor: "person:ops-ann",
        username: "ops-ann",
        roles: ["admin"],
        createdAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
      },
      "a-sealed-access-token",
    );
    const cookie = { cookie: `__Host-dsg_session=${sessionId}` };
    const start = await call("GET", "/console", { headers: cookie });
    expect(start.statusCode, start.body).toBe(302);
    await expectStatus(303, "POST", "/console/logout", {
      headers: {
        ...cookie,
        origin: ISSUER,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: `_csrf=${encodeURIComponent(csrfTokenOf(sessionId))}`,
    });
    const after = await call("GET", "/console", { headers: cookie });
    expect(after.headers.location ?? "").toMatch(/^\/console\/login/);

    // ---------------------------------------------------------- the audit trail
    await expectStatus(200, "GET", `/admin/audit?partner=${ids.consumer}&limit=5`, {
      token: admin,
    });
    const verdict = await expectStatus(200, "GET", "/admin/audit/verify", { token: admin });
    expect(verdict.json).toMatchObject({ valid: true, firstBroken: null });

    const gatewayJwt = String(
      provider.received.find((r) => r.url.startsWith("/telemetry"))?.headers.authorization ?? "",
    ).replace(/^Bearer /, "");
    const eventJws = consumer.received.find((r) => r.url.endsWith("/gateway-events"))?.body ?? "";
    return {
      invoked,
      gatewayJwt,
      eventJws,
      publishedKids: (jwks.json as { keys: { kid: string }[] }).keys.map((k) => k.kid),
      // Issued after the consumer's rotation (the one before it has ended).
      accessToken: rotatedToken,
      adminToken: admin,
    };
  } finally {
    for (const b of backends) await b.close();
  }
}

/**
 * A partner with 120 counterparties (written in-process: what is proven here
 * is the events function, not how the ecosystem was registered) and an event
 * about it, so that its fan-out spans two transactions.
 */
async function seedHub(d: LocalDeployment, baseUrl: string): Promise<void> {
  const { store } = d;
  const now = new Date();
  const at = now.toISOString();
  const partner = (id: string) => ({
    id,
    name: id,
    jurisdiction: "SE",
    baseUrl,
    status: "active" as const,
    createdAt: at,
    updatedAt: at,
  });
  const hub = "lp-hub";
  await store.db.transact(store.registry.partnerOps(partner(hub), null), "seed");
  for (let i = 0; i < 120; i++) {
    const id = `lp-spoke-${i}`;
    await store.db.transact(
      [
        ...store.registry.partnerOps(partner(id), null),
        ...store.registry.agreementOps(
          {
            ...(agreementInput(`lp-hub-${i}`, hub, id, "lp-telemetry") as object),
            valueShares: [{ partner: hub, bps: 10_000 }],
            status: "active",
            version: 1,
            createdAt: at,
            updatedAt: at,
          } as never,
          null,
          false,
        ),
      ],
      "seed",
    );
  }
  const event = store.outbox.newEvent(
    "partner.suspended",
    { kind: "partner", id: hub },
    "seeded",
    {},
    now,
  );
  await store.db.transact([store.outbox.eventOps(event)], "seed");
}

/** A pending delivery to `recipient` that has had all but its last attempt. */
async function seedLastAttempt(d: LocalDeployment, recipient: string): Promise<void> {
  const { store } = d;
  const now = new Date();
  const event = store.outbox.newEvent(
    "partner.resumed",
    { kind: "partner", id: recipient },
    "seeded",
    {},
    now,
  );
  await store.db.transact([store.outbox.eventOps(event)], "seed");
  await store.outbox.fanOut(event, [recipient], now);
  const [delivery] = await store.outbox.getDeliveries(event.id);
  if (delivery === undefined) throw new Error("no seeded delivery");
  await store.outbox.settle(delivery, { ...delivery, attempts: 7 });
}
