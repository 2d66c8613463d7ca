/** The token endpoint's rules, request by request. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newClientSecret, scryptHash } from "../../functions/auth/secrets.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
let eco: Ecosystem;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
});
afterAll(() => eco.close());

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

function tokenRequest(body: string, headers: Record<string, string> = {}) {
  return t.app.request("/oauth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
}

describe("POST /oauth/token", () => {
  it("gives a partner exactly the agreements it is party to, bound to their parties", async () => {
    const res = await tokenRequest(
      `grant_type=client_credentials&scope=agreement:${eco.agreement}`,
      {
        Authorization: basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = (await res.json()) as { access_token: string; scope: string };
    const claims = JSON.parse(
      Buffer.from(body.access_token.split(".")[1] ?? "", "base64url").toString(),
    );
    expect(claims.scope).toBe(`agreement:${eco.agreement}`);
    expect(claims.bind[eco.agreement]).toEqual([
      eco.ids.provider,
      eco.ids.consumer,
      eco.ids.dataset,
    ]);
  });

  it("without a scope, grants every active agreement of the partner", async () => {
    const res = await tokenRequest("grant_type=client_credentials", {
      Authorization: basic(eco.ids.provider, eco.secrets[eco.ids.provider] ?? ""),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { scope: string }).scope).toBe(`agreement:${eco.agreement}`);
  });

  it.each([
    [
      "a wrong secret",
      "grant_type=client_credentials",
      () => basic(eco.ids.consumer, "wrong"),
      401,
      "invalid_client",
    ],
    [
      "an unknown client",
      "grant_type=client_credentials",
      () => basic("nobody-here", "x"),
      401,
      "invalid_client",
    ],
    [
      "no client authentication",
      "grant_type=client_credentials",
      () => undefined,
      401,
      "invalid_client",
    ],
    [
      "another grant type",
      "grant_type=password",
      () => basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
      400,
      "unsupported_grant_type",
    ],
    [
      "no grant type",
      "scope=admin",
      () => basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
      400,
      "invalid_request",
    ],
    [
      "a repeated parameter",
      "grant_type=client_credentials&grant_type=client_credentials",
      () => basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
      400,
      "invalid_request",
    ],
    [
      "the secret in the body",
      "grant_type=client_credentials&client_id=x&client_secret=y",
      () => undefined,
      400,
      "invalid_request",
    ],
    [
      "a scope of another role",
      "grant_type=client_credentials&scope=metrics:read",
      () => basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
      400,
      "invalid_scope",
    ],
    [
      "a malformed scope",
      "grant_type=client_credentials&scope=%22bad%22",
      () => basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
      400,
      "invalid_scope",
    ],
  ])("refuses %s", async (_name, body, auth, status, error) => {
    const header = auth();
    const res = await tokenRequest(body, header === undefined ? {} : { Authorization: header });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: string; error_description: string };
    expect(json.error).toBe(error);
    expect(json.error_description.length).toBeGreaterThan(0);
    if (status === 401) expect(res.headers.get("WWW-Authenticate")).toBeTruthy();
  });

  it("refuses a body that is not form-encoded", async () => {
    const res = await t.app.request("/oauth/token", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: basic(eco.ids.consumer, "x") },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_request" });
  });

  it("refuses agreement scopes the partner is no party to, and operators asking for partner scopes", async () => {
    const other = await createEcosystem(t);
    try {
      const res = await tokenRequest(
        `grant_type=client_credentials&scope=agreement:${other.agreement}`,
        {
          Authorization: basic(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""),
        },
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_scope" });
      const op = await tokenRequest(
        `grant_type=client_credentials&scope=agreement:${eco.agreement}`,
        {
          Authorization: basic("operator", t.operatorSecret),
        },
      );
      expect(op.status).toBe(400);
      expect(await op.json()).toMatchObject({ error: "invalid_scope" });
    } finally {
      await other.close();
    }
  });

  it("refuses the agreement scope once the agreement is suspended, and a suspended partner altogether", async () => {
    const e = await createEcosystem(t);
    try {
      const auth = { Authorization: basic(e.ids.consumer, e.secrets[e.ids.consumer] ?? "") };
      expect(
        (await t.admin("POST", `/admin/agreements/${e.agreement}/suspend`, { reason: "test" }))
          .status,
      ).toBe(200);
      const scoped = await tokenRequest(
        `grant_type=client_credentials&scope=agreement:${e.agreement}`,
        auth,
      );
      expect(scoped.status).toBe(400);
      expect(await scoped.json()).toMatchObject({ error: "invalid_scope" });
      expect(
        (await t.admin("POST", `/admin/partners/${e.ids.consumer}/suspend`, { reason: "test" }))
          .status,
      ).toBe(200);
      const suspended = await tokenRequest("grant_type=client_credentials", auth);
      expect(suspended.status).toBe(401);
      expect(await suspended.json()).toMatchObject({ error: "invalid_client" });
    } finally {
      await e.close();
    }
  });

  it("keeps only a keyed hash of each secret", async () => {
    const client = await t.gw.credentials.get(eco.ids.consumer);
    const stored = JSON.stringify(client);
    expect(stored).not.toContain(eco.secrets[eco.ids.consumer]);
    expect(client?.value.secretHash).toMatch(/^hmac-sha256\$v1\$[A-Za-z0-9_-]{43}$/);
  });

  /** Stores the client's secret as an earlier scrypt hash would have been; the record before. */
  async function storeScryptHash(id: string) {
    const found = await t.gw.credentials.get(id);
    if (found === undefined) throw new Error(`no client ${id}`);
    const old = await scryptHash(eco.secrets[id] ?? "");
    const written = await t.gw.db.transact(
      t.gw.credentials.clientOps({ ...found.value, secretHash: old }, found.rev),
      "store an earlier hash",
    );
    expect(written.ok).toBe(true);
    return { found, old };
  }

  it("accepts a secret stored as an earlier scrypt hash and stores the keyed hash instead", async () => {
    const id = eco.ids.consumer;
    const secret = eco.secrets[id] ?? "";
    const { found, old } = await storeScryptHash(id);
    const wrong = await tokenRequest("grant_type=client_credentials", {
      Authorization: basic(id, newClientSecret()),
    });
    expect(wrong.status).toBe(401);
    expect((await t.gw.credentials.get(id))?.value.secretHash).toBe(old);

    const res = await tokenRequest("grant_type=client_credentials", {
      Authorization: basic(id, secret),
    });
    expect(res.status).toBe(200);
    const after = await t.gw.credentials.get(id);
    expect(after?.value.secretHash).toBe(await t.gw.secrets.hash(secret));
    // Nothing else changed: same revision (a rotation that read it still applies), same generation.
    expect(after?.rev).toBe(found.rev + 1);
    expect({ ...after?.value, secretHash: old }).toEqual({ ...found.value, secretHash: old });
    const again = await tokenRequest("grant_type=client_credentials", {
      Authorization: basic(id, secret),
    });
    expect(again.status).toBe(200);
  });

  it("never undoes a rotation that came between the check and the upgrade", async () => {
    const id = eco.ids.provider;
    const secret = eco.secrets[id] ?? "";
    await storeScryptHash(id);
    const read = await t.gw.credentials.get(id);
    if (read === undefined) throw new Error("no provider client");
    // A rotation writes after the token endpoint read the client ...
    const rotated = await t.gw.secrets.hash(newClientSecret());
    await t.gw.db.transact(
      t.gw.credentials.clientOps({ ...read.value, secretHash: rotated }, read.rev),
      "rotate",
    );
    // ... so the upgrade of what it read does not apply.
    expect(
      await t.gw.credentials.upgradeHash(read.value, read.rev, await t.gw.secrets.hash(secret)),
    ).toBe(false);
    expect((await t.gw.credentials.get(id))?.value.secretHash).toBe(rotated);
    // The other order: an upgrade keeps the revision, so the rotation that read it still wins.
    const current = await t.gw.credentials.get(id);
    if (current === undefined) throw new Error("no provider client");
    expect(await t.gw.credentials.upgradeHash(current.value, current.rev, "hmac-sha256$v1$x")).toBe(
      true,
    );
    const restore = await t.gw.secrets.hash(secret);
    const rotation = await t.gw.db.transact(
      t.gw.credentials.clientOps({ ...current.value, secretHash: restore }, current.rev),
      "rotate",
    );
    expect(rotation.ok).toBe(true);
    expect((await t.gw.credentials.get(id))?.value.secretHash).toBe(restore);
  });

  it("publishes the authorization server metadata and the JWKS", async () => {
    const meta = (await (
      await t.app.request("/.well-known/oauth-authorization-server")
    ).json()) as Record<string, unknown>;
    expect(meta.token_endpoint).toMatch(/\/oauth\/token$/);
    const jwks = (await (await t.app.request("/.well-known/jwks.json")).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
    for (const k of jwks.keys) {
      expect(k).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256" });
      expect(k.d).toBeUndefined();
    }
  });
});
