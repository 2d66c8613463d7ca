/** What every operator action shares: a reason, an audited write, the actor. */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import type { Context } from "hono";
import { ConflictError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import type { AuditDraft, AuditEntry } from "../store/audit.ts";
import type { EventType, GatewayEvent } from "../store/outbox.ts";

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

interface StatusEntity {
  readonly id: string;
  readonly status: string;
}

/** One status transition of a partner or an agreement (suspend, revoke, ...). */
export interface StatusTransition<T extends StatusEntity> {
  readonly kind: "partner" | "agreement";
  /** The route's name: `suspend`, `resume`, ... */
  readonly name: string;
  /** For messages: `suspended`, `resumed`, ... */
  readonly past: string;
  readonly to: T["status"];
  readonly event: EventType;
  /** Reads the entity fresh: the stored value and revision, its status now, and how it is shown. */
  read(): Promise<{ value: T; rev: number; current: string; shown: T }>;
  allowed(current: string): boolean;
  partners(value: T): string[];
  ops(updated: T, rev: number): TransactWriteItem[];
  /** The changed entity as the answer shows it. */
  shown(updated: T, now: Date): T;
}

/**
 * Moves an entity to another status, audited, with the event that tells its
 * counterparties. A write that lost a race is tried again on what the winner
 * left: a repeat of the same transition then answers as the no-op it is.
 */
export async function changeStatus<T extends StatusEntity>(
  gw: Gateway,
  c: Context<AppEnv>,
  reason: string,
  t: StatusTransition<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const { value, rev, current, shown } = await t.read();
    if (current === t.to) return shown;
    if (!t.allowed(current)) throw new ConflictError(`a ${current} ${t.kind} cannot be ${t.past}`);
    const now = gw.clock();
    const updated: T = {
      ...value,
      status: t.to,
      statusReason: reason,
      updatedAt: now.toISOString(),
    };
    const event = gw.outbox.newEvent(
      t.event,
      { kind: t.kind, id: value.id },
      reason,
      { status: t.to },
      now,
    );
    try {
      await auditedWrite(
        gw,
        c,
        {
          action: `${t.kind}.${t.name}`,
          target: `${t.kind}:${value.id}`,
          reason,
          partners: t.partners(value),
          details: { from: current, to: t.to },
        },
        t.ops(updated, rev),
        [event],
      );
    } catch (err) {
      if (err instanceof ConflictError && attempt < 3) continue;
      throw err;
    }
    return t.shown(updated, now);
  }
}
