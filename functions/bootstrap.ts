/**
 * Makes sure an operator or finance client exists with a known secret. Used
 * by the local server at every start and by the one-off bootstrap of a fresh
 * AWS deployment. With no secret given, a new one is issued (and returned):
 * only hashes are stored, so an old one cannot be shown again.
 */

import { EMPTY_TRADE_RULES } from "../policies/model.ts";
import { newClientSecret } from "./auth/secrets.ts";
import type { Gateway } from "./gateway.ts";
import type { ClientRole } from "./store/credentials.ts";

export interface EnsuredClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly created: boolean;
}

export async function ensureClient(
  gw: Gateway,
  id: string,
  role: Exclude<ClientRole, "partner">,
  secret: string | undefined,
  actor = "bootstrap",
): Promise<EnsuredClient> {
  const found = await gw.credentials.get(id);
  if (found !== undefined && found.value.role !== role) {
    throw new Error(`client ${id} exists with role ${found.value.role}, not ${role}`);
  }
  if (
    found !== undefined &&
    secret !== undefined &&
    (await gw.secrets.verify(secret, found.value.secretHash)).ok
  ) {
    return { clientId: id, clientSecret: secret, created: false };
  }
  const clientSecret = secret ?? newClientSecret();
  const now = gw.clock().toISOString();
  const record = {
    id,
    role,
    secretHash: await gw.secrets.hash(clientSecret),
    createdAt: found?.value.createdAt ?? now,
    updatedAt: now,
  };
  const result = await gw.audit.append(
    {
      actor,
      action: found === undefined ? "client.create" : "client.rotate_secret",
      target: `client:${id}`,
      details: { role },
    },
    [
      ...(found === undefined
        ? [gw.registry.absentCheck({ pk: { S: `P#${id}` }, sk: { S: "P" } })]
        : []),
      ...gw.credentials.clientOps(record, found?.rev ?? null),
    ],
  );
  if (!result.ok) throw new Error(`client ${id} could not be written (its id may be a partner's)`);
  return { clientId: id, clientSecret, created: found === undefined };
}

/**
 * Writes the ecosystem's trade rules (empty) with their copies if they were
 * never set, so that every exchange finds them in one round trip.
 */
export async function ensureTradeRules(gw: Gateway, actor = "bootstrap"): Promise<void> {
  const { rev } = await gw.registry.getTradeRules();
  if (rev !== 0) return;
  const rules = { ...EMPTY_TRADE_RULES, updatedAt: gw.clock().toISOString() };
  await gw.audit.append(
    { actor, action: "trade_rules.update", target: "trade-rules", details: { rules } },
    gw.registry.tradeRulesOps(rules, 0),
  );
}
