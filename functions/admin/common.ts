/** What every operator action shares: a reason, an audited write, the actor. */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import type { Context } from "hono";
import { ConflictError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import type { AuditDraft, AuditEntry } from "../store/audit.ts";
import type { GatewayEvent } from "../store/outbox.ts";

export { PageQuery, ReasonBody } from "./schemas.ts";

export const actorOf = (c: Context<AppEnv>): string => c.get("claims").sub;

/**
 * Writes `ops` together with their audit entry (and events). A failed
 * condition means somebody changed the same thing first: 409, nothing written.
 */
export async function auditedWrite(
  gw: Gateway,
  c: Context<AppEnv>,
  draft: Omit<AuditDraft, "actor" | "requestId">,
  ops: readonly TransactWriteItem[],
  events: readonly GatewayEvent[] = [],
  conflict = "the target changed or already exists; read it again and retry",
): Promise<AuditEntry> {
  const result = await gw.audit.append(
    { ...draft, actor: actorOf(c), requestId: c.get("requestId") },
    [...ops, ...events.map((e) => gw.outbox.eventOps(e))],
  );
  if (!result.ok) throw new ConflictError(conflict);
  return result.entry;
}
