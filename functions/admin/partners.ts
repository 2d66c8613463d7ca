/** Operators: partners and their lifecycle (phase in, suspend, revoke, reinstate, phase out). */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { Hono } from "hono";
import { type Partner, PartnerInput, PartnerPatch } from "../../policies/model.ts";
import { partnerStatusAt } from "../../policies/status.ts";
import { newClientSecret } from "../auth/secrets.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith, readJsonWith } from "../http/validate.ts";
import type { EventType } from "../store/outbox.ts";
import type { Stored } from "../store/registry.ts";
import { checkBackend } from "./backend-check.ts";
import { auditedWrite, changeStatus, PageQuery, ReasonBody } from "./common.ts";
import { registerKeysRoute } from "./partner-keys.ts";
import { PhaseOutBody } from "./schemas.ts";

export type Transition = "suspend" | "resume" | "revoke" | "reinstate";

/** Which statuses each transition starts from (the console reads it to offer only those). */
export const TRANSITIONS: Readonly<
  Record<
    Transition,
    { from: readonly Partner["status"][]; to: Partner["status"]; event: EventType; past: string }
  >
> = {
  suspend: { from: ["active"], to: "suspended", event: "partner.suspended", past: "suspended" },
  resume: { from: ["suspended"], to: "active", event: "partner.resumed", past: "resumed" },
  revoke: {
    from: ["active", "suspended", "offboarded"],
    to: "revoked",
    event: "partner.revoked",
    past: "revoked",
  },
  reinstate: { from: ["revoked"], to: "active", event: "partner.reinstated", past: "reinstated" },
};

export async function loadPartner(gw: Gateway, id: string): Promise<Stored<Partner>> {
  const found = await gw.registry.getPartner(id);
  if (found === undefined)
    throw new NotFoundError("partner_not_found", `partner ${id} does not exist`);
  return found;
}

export function partnersApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/", async (c) => {
    const input = await readJsonWith(c, PartnerInput);
    await checkBackend(gw, input.baseUrl);
    const now = gw.clock().toISOString();
    const partner: Partner = { ...input, status: "active", createdAt: now, updatedAt: now };
    const secret = newClientSecret();
    const client = {
      id: input.id,
      role: "partner" as const,
      secretHash: await gw.secrets.hash(secret),
      createdAt: now,
      updatedAt: now,
    };
    await auditedWrite(
      gw,
      c,
      {
        action: "partner.create",
        target: `partner:${input.id}`,
        partners: [input.id],
        details: { partner },
      },
      [...gw.registry.partnerOps(partner, null), ...gw.credentials.clientOps(client, null)],
      [],
      `the id ${input.id} is taken`,
    );
    return c.json({ partner, clientId: input.id, clientSecret: secret }, 201);
  });

  app.get("/", async (c) => {
    const q = parseWith(PageQuery, c.req.query());
    const page = await gw.registry.listPartners(q.limit, q.cursor);
    const now = gw.clock();
    return c.json({ ...page, items: page.items.map((p) => withEffectiveStatus(p, now)) });
  });

  app.get("/:id", async (c) =>
    c.json(withEffectiveStatus((await loadPartner(gw, c.req.param("id"))).value, gw.clock())),
  );

  app.patch("/:id", async (c) => {
    const patch = await readJsonWith(c, PartnerPatch);
    const { value, rev } = await loadPartner(gw, c.req.param("id"));
    if (patch.baseUrl !== undefined) await checkBackend(gw, patch.baseUrl);
    const { reason, ...changes } = patch;
    const updated: Partner = { ...value, ...changes, updatedAt: gw.clock().toISOString() };
    await auditedWrite(
      gw,
      c,
      {
        action: "partner.update",
        target: `partner:${value.id}`,
        reason: reason ?? null,
        partners: [value.id],
        details: { changes },
      },
      gw.registry.partnerOps(updated, rev),
    );
    return c.json(updated);
  });

  for (const name of Object.keys(TRANSITIONS) as Transition[]) {
    app.post(`/:id/${name}`, async (c) => {
      const { reason } = await readJsonWith(c, ReasonBody);
      const t = TRANSITIONS[name];
      const updated = await changeStatus<Partner>(gw, c, reason, {
        kind: "partner",
        name,
        ...t,
        read: async () => {
          const { value, rev } = await loadPartner(gw, c.req.param("id"));
          const now = gw.clock();
          return {
            value,
            rev,
            current: partnerStatusAt(value, now),
            shown: withEffectiveStatus(value, now),
          };
        },
        allowed: (current) => (t.from as readonly string[]).includes(current),
        partners: (p) => [p.id],
        ops: (p, rev) => gw.registry.partnerOps(p, rev),
        shown: withEffectiveStatus,
      });
      return c.json(updated);
    });
  }

  app.post("/:id/phase-out", async (c) => {
    const { at, reason } = await readJsonWith(c, PhaseOutBody);
    const { value, rev } = await loadPartner(gw, c.req.param("id"));
    const now = gw.clock();
    const current = partnerStatusAt(value, now);
    if (current === "revoked" || current === "offboarded") {
      throw new ConflictError(`a ${current} partner cannot be phased out`);
    }
    const updated: Partner = {
      ...value,
      phaseOutAt: at,
      statusReason: reason,
      updatedAt: now.toISOString(),
    };
    const event = gw.outbox.newEvent(
      "partner.phase_out_scheduled",
      { kind: "partner", id: value.id },
      reason,
      { at },
      now,
    );
    await auditedWrite(
      gw,
      c,
      {
        action: "partner.phase_out",
        target: `partner:${value.id}`,
        reason,
        partners: [value.id],
        details: { at },
      },
      gw.registry.partnerOps(updated, rev),
      [event],
    );
    return c.json(withEffectiveStatus(updated, now));
  });

  app.post("/:id/credentials", async (c) => {
    // The partner item carries the new generation too: the exchange reads it
    // on every call, so tokens of the old secret end there at no extra cost.
    // A status change that lands between the read and the write is a lost
    // race, not a refusal: read both again and retry, as status changes do.
    for (let attempt = 0; ; attempt++) {
      const { value, rev } = await loadPartner(gw, c.req.param("id"));
      try {
        const secret = await rotateSecret(gw, c, value.id, [value.id], (generation, at) =>
          gw.registry.partnerOps(
            {
              ...value,
              credentialGeneration: generation,
              credentialsRotatedAt: at,
              updatedAt: at,
            },
            rev,
          ),
        );
        return c.json({ clientId: value.id, clientSecret: secret });
      } catch (err) {
        if (err instanceof ConflictError && attempt < 3) continue;
        throw err;
      }
    }
  });

  registerKeysRoute(app, gw);
  return app;
}

/** The status a partner has right now: a passed phase-out date reads as offboarded. */
export function withEffectiveStatus(p: Partner, now: Date): Partner {
  const status = partnerStatusAt(p, now);
  return status === p.status ? p : { ...p, status };
}

/**
 * Issues a new secret for a client and raises its credential generation: the
 * old secret stops working with this write, and so do the tokens issued
 * under it. `alsoWrite` adds items written in the same transaction (the
 * partner item, for a partner client).
 */
export async function rotateSecret(
  gw: Gateway,
  c: import("hono").Context<AppEnv>,
  clientId: string,
  partners: string[],
  alsoWrite: (generation: number, at: string) => TransactWriteItem[] = () => [],
): Promise<string> {
  const found = await gw.credentials.get(clientId);
  if (found === undefined)
    throw new NotFoundError("client_not_found", `client ${clientId} does not exist`);
  const secret = newClientSecret();
  const now = gw.clock().toISOString();
  const generation = (found.value.generation ?? 0) + 1;
  const updated = {
    ...found.value,
    secretHash: await gw.secrets.hash(secret),
    generation,
    updatedAt: now,
  };
  await auditedWrite(
    gw,
    c,
    {
      action: "client.rotate_secret",
      target: `client:${clientId}`,
      partners,
      details: { generation },
    },
    [...gw.credentials.clientOps(updated, found.rev), ...alsoWrite(generation, now)],
  );
  return secret;
}
