/** Operators register a partner's public keys for RFC 7523 client assertions. */
import type { Hono } from "hono";
import { importJWK, type JWK } from "jose";
import { InvalidRequestError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { readJsonWith } from "../http/validate.ts";
import { auditedWrite } from "./common.ts";
import { loadPartner } from "./partners.ts";
import { KeysBody } from "./schemas.ts";

/** The algorithm a key is used with when it names none. */
function algorithmOf(k: JWK): string {
  if (k.alg !== undefined) return k.alg;
  if (k.kty === "EC") return k.crv === "P-384" ? "ES384" : "ES256";
  return k.kty === "OKP" ? "EdDSA" : "RS256";
}

/** Every key must be one the token endpoint can verify with: refused here, not at first use. */
async function checkUsable(keys: readonly JWK[]): Promise<void> {
  for (const [i, k] of keys.entries()) {
    try {
      await importJWK(k, algorithmOf(k));
    } catch (err) {
      throw new InvalidRequestError(
        `keys.${i}`,
        `is not a usable ${k.kty} public key (${(err as Error).message})`,
      );
    }
  }
}

export function registerKeysRoute(app: Hono<AppEnv>, gw: Gateway): void {
  app.put("/:id/keys", async (c) => {
    const { keys } = await readJsonWith(c, KeysBody);
    await checkUsable(keys as JWK[]);
    const { value } = await loadPartner(gw, c.req.param("id"));
    const client = await gw.credentials.get(value.id);
    if (client === undefined) throw new Error(`partner ${value.id} has no client`);
    const updated = { ...client.value, jwks: keys, updatedAt: gw.clock().toISOString() };
    await auditedWrite(
      gw,
      c,
      {
        action: "client.register_keys",
        target: `client:${value.id}`,
        partners: [value.id],
        details: { kids: keys.map((k) => k.kid) },
      },
      gw.credentials.clientOps(updated, client.rev),
    );
    return c.json({ clientId: value.id, keys });
  });
}
