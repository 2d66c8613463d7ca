/**
 * The backend kit: verifyGatewayRequest and verifyGatewayEvent against a
 * gateway served over HTTP (its published JWKS, fetched once and cached).
 * Real gateway JWTs and events pass; forged, expired, wrong-audience,
 * over-long and access tokens (or events) in place of a gateway JWT do not.
 */
import {
  GatewayVerificationError,
  verifyGatewayEvent,
  verifyGatewayRequest,
} from "@data-sharing-gateway/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signJws } from "../../functions/auth/jws.ts";
import { ephemeralKeys } from "../../functions/auth/local-keys.ts";
import { issueAccessToken, issueGatewayToken } from "../../functions/auth/tokens.ts";
import { signEvent } from "../../functions/events/deliver.ts";
import type { Delivery } from "../../functions/store/outbox.ts";
import { type ServedGateway, serveGateway } from "./support.ts";

let g: ServedGateway;
beforeAll(async () => {
  g = await serveGateway();
});
afterAll(() => g.close());

const PARTNER = "fleetco";
const CLAIMS = {
  aud: PARTNER,
  agreement: "agr-1",
  party: "insureco",
  purpose: "insurance-pricing",
  action: "read",
};
const options = () => ({ gatewayUrl: g.url, partnerId: PARTNER });
const bearer = (token: string) =>
  new Request("http://backend.test/telemetry", {
    headers: { Authorization: `Bearer ${token}` },
  });

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayVerificationError);
  return (err as GatewayVerificationError).code;
}

describe("verifyGatewayRequest", () => {
  it("accepts the gateway's own JWT and says what it asks for; fetches the keys once", async () => {
    const { token } = await issueGatewayToken(g.t.gw.keys.signer, g.url, CLAIMS, 300, new Date());
    const before = g.hits.get("/.well-known/jwks.json") ?? 0;
    const claims = await verifyGatewayRequest(bearer(token), options());
    expect(claims).toMatchObject({
      agreement: "agr-1",
      party: "insureco",
      purpose: "insurance-pricing",
      action: "read",
    });
    expect(claims.expiresAt.getTime()).toBeGreaterThan(Date.now());
    // Plain headers (a Node IncomingMessage's) do as well; the keys are not fetched again.
    for (let i = 0; i < 3; i++) {
      await verifyGatewayRequest({ headers: { authorization: `Bearer ${token}` } }, options());
    }
    expect((g.hits.get("/.well-known/jwks.json") ?? 0) - before).toBe(1);
  });

  it("refuses a missing token, and one signed by any other key", async () => {
    expect(await refusal(verifyGatewayRequest(new Request("http://b.test/"), options()))).toBe(
      "missing_token",
    );
    const other = await ephemeralKeys();
    const { token: forged } = await issueGatewayToken(other.signer, g.url, CLAIMS, 300, new Date());
    expect(await refusal(verifyGatewayRequest(bearer(forged), options()))).toBe(
      "invalid_signature",
    );
    // The same claims under the gateway's own key id, signed by another key.
    const [kid] = g.t.gw.keys.publicJwks.map((k) => k.kid);
    const impostor = await signJws(
      { ...other.signer, kid: kid ?? "" },
      { typ: "gateway+jwt" },
      { iss: g.url, sub: g.url, iat: now(), exp: now() + 300, jti: "x", ...CLAIMS },
    );
    expect(await refusal(verifyGatewayRequest(bearer(impostor), options()))).toBe(
      "invalid_signature",
    );
    // A tampered payload.
    const { token } = await issueGatewayToken(g.t.gw.keys.signer, g.url, CLAIMS, 300, new Date());
    const [h, p, s] = token.split(".");
    const changed = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(p ?? "", "base64url").toString()),
        agreement: "agr-2",
      }),
    ).toString("base64url");
    expect(await refusal(verifyGatewayRequest(bearer(`${h}.${changed}.${s}`), options()))).toBe(
      "invalid_signature",
    );
  });

  it("refuses an expired JWT, one for another backend, one from another issuer", async () => {
    const old = new Date(Date.now() - 600_000);
    const { token: expired } = await issueGatewayToken(g.t.gw.keys.signer, g.url, CLAIMS, 300, old);
    expect(await refusal(verifyGatewayRequest(bearer(expired), options()))).toBe("expired");
    const { token: theirs } = await issueGatewayToken(
      g.t.gw.keys.signer,
      g.url,
      { ...CLAIMS, aud: "insureco" },
      300,
      new Date(),
    );
    expect(await refusal(verifyGatewayRequest(bearer(theirs), options()))).toBe("wrong_audience");
    const { token: elsewhere } = await issueGatewayToken(
      g.t.gw.keys.signer,
      "https://other-gateway.example",
      CLAIMS,
      300,
      new Date(),
    );
    expect(await refusal(verifyGatewayRequest(bearer(elsewhere), options()))).toBe("wrong_issuer");
  });

  it("refuses the gateway's access token (at+jwt), even one addressed to this partner", async () => {
    const { token } = await issueAccessToken(
      g.t.gw.keys.signer,
      { issuer: g.url, audience: g.url, maxLifetimeSeconds: 900 },
      { sub: PARTNER, scopes: ["agreement:agr-1"], ttlSeconds: 900 },
      new Date(),
    );
    expect(await refusal(verifyGatewayRequest(bearer(token), options()))).toBe("wrong_type");
    const { token: addressed } = await issueAccessToken(
      g.t.gw.keys.signer,
      { issuer: g.url, audience: PARTNER, maxLifetimeSeconds: 900 },
      { sub: PARTNER, scopes: ["agreement:agr-1"], ttlSeconds: 900 },
      new Date(),
    );
    expect(await refusal(verifyGatewayRequest(bearer(addressed), options()))).toBe("wrong_type");
  });

  it("refuses a JWT that lives longer than 300 s, or lacks the request's claims", async () => {
    const long = await signJws(
      g.t.gw.keys.signer,
      { typ: "gateway+jwt" },
      { iss: g.url, sub: g.url, iat: now(), exp: now() + 3600, jti: "j", ...CLAIMS },
    );
    expect(await refusal(verifyGatewayRequest(bearer(long), options()))).toBe("lifetime_too_long");
    const { agreement: _a, ...partial } = CLAIMS;
    const bare = await signJws(
      g.t.gw.keys.signer,
      { typ: "gateway+jwt" },
      { iss: g.url, sub: g.url, iat: now(), exp: now() + 60, jti: "j", ...partial },
    );
    expect(await refusal(verifyGatewayRequest(bearer(bare), options()))).toBe("missing_claim");
  });
});

const now = () => Math.floor(Date.now() / 1000);

function delivery(recipient: string): Delivery {
  return {
    id: `ev-1:${recipient}`,
    event: {
      id: "ev-1",
      type: "agreement.suspended",
      at: new Date().toISOString(),
      subject: { kind: "agreement", id: "agr-1" },
      reason: "audit",
      data: { status: "suspended" },
    },
    recipient,
    state: "pending",
    attempts: 0,
    createdAt: new Date().toISOString(),
    nextAttemptAt: null,
    lastError: null,
    deliveredAt: null,
  };
}

describe("verifyGatewayEvent", () => {
  it("accepts a signed event for this partner, with its delivery id", async () => {
    const jws = await signEvent(g.t.gw, delivery(PARTNER), new Date());
    const event = await verifyGatewayEvent(jws, options());
    expect(event).toMatchObject({
      id: "ev-1",
      type: "agreement.suspended",
      subject: { kind: "agreement", id: "agr-1" },
      reason: "audit",
      deliveryId: `ev-1:${PARTNER}`,
    });
  });

  it("refuses an event for another partner, a stale one, and a request JWT posing as an event", async () => {
    const theirs = await signEvent(g.t.gw, delivery("insureco"), new Date());
    expect(await refusal(verifyGatewayEvent(theirs, options()))).toBe("wrong_audience");
    const stale = await signEvent(g.t.gw, delivery(PARTNER), new Date(Date.now() - 3_600_000));
    expect(await refusal(verifyGatewayEvent(stale, options()))).toBe("expired");
    const { token } = await issueGatewayToken(g.t.gw.keys.signer, g.url, CLAIMS, 300, new Date());
    expect(await refusal(verifyGatewayEvent(token, options()))).toBe("wrong_type");
    const other = await ephemeralKeys();
    const forged = await signJws(
      other.signer,
      { typ: "gateway-event+jwt" },
      {
        iss: g.url,
        aud: PARTNER,
        iat: now(),
        exp: now() + 60,
        jti: "j",
        event: delivery(PARTNER).event,
      },
    );
    expect(await refusal(verifyGatewayEvent(forged, options()))).toBe("invalid_signature");
  });
});
