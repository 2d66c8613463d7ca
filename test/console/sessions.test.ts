/**
 * Console sessions in DynamoDB Local: what the browser holds opens the
 * session until the token's expiry and not after, not after sign-out, not
 * when altered; the store holds neither the id nor the token in the clear;
 * a sign-in under way can be taken once.
 */
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import type { SessionRecord } from "../../functions/store/sessions.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
beforeAll(async () => {
  t = await createTestGateway();
});

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

const record = (expiresAt: Date): SessionRecord => ({
  actor: "person:alice",
  username: "alice",
  roles: ["admin"],
  createdAt: new Date().toISOString(),
  expiresAt: expiresAt.toISOString(),
});

describe("console sessions", () => {
  it("opens until the token's expiry, and not after", async () => {
    const now = new Date();
    const expires = new Date(now.getTime() + 60_000);
    const id = await t.gw.sessions.create(record(expires), TOKEN);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await t.gw.sessions.get(id, now)).toMatchObject({
      actor: "person:alice",
      roles: ["admin"],
      accessToken: TOKEN,
    });
    expect(await t.gw.sessions.get(id, new Date(expires.getTime() - 1000))).toBeDefined();
    expect(await t.gw.sessions.get(id, expires)).toBeUndefined();
  });

  it("ends at sign-out", async () => {
    const now = new Date();
    const id = await t.gw.sessions.create(record(new Date(now.getTime() + 60_000)), TOKEN);
    await t.gw.sessions.end(id, now);
    expect(await t.gw.sessions.get(id, now)).toBeUndefined();
  });

  it("an altered or unknown id opens nothing", async () => {
    const now = new Date();
    const id = await t.gw.sessions.create(record(new Date(now.getTime() + 60_000)), TOKEN);
    const altered = `${id.slice(0, -1)}${id.endsWith("A") ? "B" : "A"}`;
    expect(await t.gw.sessions.get(altered, now)).toBeUndefined();
    expect(await t.gw.sessions.get("not-an-id", now)).toBeUndefined();
  });

  it("stores neither the id nor the token in the clear, and expires with a TTL", async () => {
    const now = new Date();
    const id = await t.gw.sessions.create(record(new Date(now.getTime() + 60_000)), TOKEN);
    const { createHash } = await import("node:crypto");
    const pk = `S#${createHash("sha256").update(id).digest("base64url")}`;
    const out = await t.client.send(
      new QueryCommand({
        TableName: t.gw.db.tables.credentials,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: pk } },
      }),
    );
    expect(out.Items?.length).toBe(1);
    const raw = JSON.stringify(out.Items);
    expect(raw).not.toContain(id);
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain("c2lnbmF0dXJl");
    expect(Number(out.Items?.[0]?.expiresAt?.N)).toBe(Math.floor((now.getTime() + 60_000) / 1000));
  });

  it("a sign-in under way is taken once, and not after it expired", async () => {
    const now = new Date();
    const login = { state: "s", nonce: "n", codeVerifier: "v", returnTo: "/console/audit" };
    const id = await t.gw.sessions.startLogin(login, now);
    expect(await t.gw.sessions.takeLogin(id, now)).toEqual(login);
    expect(await t.gw.sessions.takeLogin(id, now)).toBeUndefined();
    const late = await t.gw.sessions.startLogin(login, now);
    expect(await t.gw.sessions.takeLogin(late, new Date(now.getTime() + 601_000))).toBeUndefined();
  });
});
