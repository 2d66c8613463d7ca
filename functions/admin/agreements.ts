/** Operators: agreements (JSON or ODRL), amendments as versions, and their lifecycle. */
import { type Context, Hono } from "hono";
import { type AgreementContext, checkAgreement, sharesOf } from "../../policies/agreement-rules.ts";
import {
  type Agreement,
  AgreementInput,
  AgreementPatch,
  type Partner,
} from "../../policies/model.ts";
import { agreementToOdrl, odrlToAgreementInput } from "../../policies/odrl/index.ts";
import { agreementStatusAt } from "../../policies/status.ts";
import {
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  RuleViolationError,
} from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith, readJson, readJsonWith } from "../http/validate.ts";
import type { EventType } from "../store/outbox.ts";
import { auditedWrite, changeStatus, ReasonBody } from "./common.ts";
import { AgreementListQuery } from "./schemas.ts";

export type Transition = "suspend" | "resume" | "terminate";

/** Which statuses each transition starts from (the console reads it to offer only those). */
export const TRANSITIONS: Readonly<
  Record<
    Transition,
    {
      from: readonly Agreement["status"][];
      to: Agreement["status"];
      event: EventType;
      past: string;
    }
  >
> = {
  suspend: { from: ["active"], to: "suspended", event: "agreement.suspended", past: "suspended" },
  resume: { from: ["suspended"], to: "active", event: "agreement.resumed", past: "resumed" },
  terminate: {
    from: ["active", "suspended"],
    to: "terminated",
    event: "agreement.terminated",
    past: "terminated",
  },
};

/** An agreement as it stands now: one whose party was phased out reads `ended`. */
export async function withEffectiveStatuses(
  gw: Gateway,
  agreements: readonly Agreement[],
): Promise<Agreement[]> {
  if (agreements.length === 0) return [];
  const now = gw.clock();
  const ids = [...new Set(agreements.flatMap((a) => [a.provider, a.consumer]))];
  const parties = new Map<string, Partner | undefined>();
  for (let i = 0; i < ids.length; i += 100) {
    for (const [id, p] of await gw.registry.getPartners(ids.slice(i, i + 100))) parties.set(id, p);
  }
  return agreements.map((a) => {
    const status = agreementStatusAt(a, [parties.get(a.provider), parties.get(a.consumer)], now);
    return status === a.status ? a : ({ ...a, status } as unknown as Agreement);
  });
}

export async function loadAgreement(gw: Gateway, id: string) {
  const found = await gw.registry.getAgreement(id);
  if (found === undefined)
    throw new NotFoundError("agreement_not_found", `agreement ${id} does not exist`);
  return found;
}

export async function contextFor(
  gw: Gateway,
  draft: {
    dataset: string;
    provider: string;
    consumer: string;
    valueShares?: readonly { partner: string }[] | undefined;
  },
): Promise<AgreementContext> {
  const shareIds = (draft.valueShares ?? []).map((s) => s.partner);
  const [dataset, partners, trade] = await Promise.all([
    gw.registry.getDataset(draft.dataset),
    gw.registry.getPartners([draft.provider, draft.consumer, ...shareIds]),
    gw.registry.getTradeRules(),
  ]);
  return {
    dataset: dataset?.value,
    provider: partners.get(draft.provider),
    consumer: partners.get(draft.consumer),
    sharePartners: new Map(shareIds.map((id) => [id, partners.get(id)])),
    tradeRules: trade.value,
  };
}

function enforceRules(issues: ReturnType<typeof checkAgreement>): void {
  const [first] = issues;
  if (first !== undefined) throw new RuleViolationError(first.code, first.message, issues);
}

const isLd = (type: string | undefined) =>
  type !== undefined && /^application\/ld\+json\s*(;|$)/i.test(type);
const wantsLd = (accept: string | undefined) =>
  accept !== undefined && /application\/ld\+json/i.test(accept);

async function readAgreementInput(c: Context<AppEnv>): Promise<AgreementInput> {
  if (!isLd(c.req.header("Content-Type"))) return readJsonWith(c, AgreementInput);
  const imported = odrlToAgreementInput(await readJson(c));
  if (!imported.ok) {
    const [first] = imported.issues;
    if (first?.code === "invalid_request")
      throw new InvalidRequestError(first.field, first.message);
    throw new RuleViolationError(
      "unsupported_odrl_term",
      first?.message ?? "an ODRL term is not supported",
      imported.issues,
    );
  }
  return parseWith(AgreementInput, imported.input);
}

export function agreementsApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/", async (c) => {
    const input = await readAgreementInput(c);
    if (input.provider === input.consumer)
      throw new InvalidRequestError("consumer", "must differ from the provider");
    const now = gw.clock();
    enforceRules(checkAgreement(input, await contextFor(gw, input), now));
    const at = now.toISOString();
    const agreement: Agreement = {
      ...input,
      valueShares: sharesOf(input),
      status: "active",
      version: 1,
      createdAt: at,
      updatedAt: at,
    };
    await auditedWrite(
      gw,
      c,
      {
        action: "agreement.create",
        target: `agreement:${agreement.id}`,
        partners: [agreement.provider, agreement.consumer],
        details: { version: 1, agreement },
      },
      gw.registry.agreementOps(agreement, null, true),
      [],
      `the agreement id ${agreement.id} is taken`,
    );
    return c.json(agreement, 201);
  });

  app.get("/", async (c) => {
    const q = parseWith(AgreementListQuery, c.req.query());
    const page = await gw.registry.listAgreements(q.limit, q.cursor, q.partner);
    return c.json({ ...page, items: await withEffectiveStatuses(gw, page.items) });
  });

  app.get("/:id", async (c) => {
    const { value } = await loadAgreement(gw, c.req.param("id"));
    if (wantsLd(c.req.header("Accept"))) {
      return c.body(JSON.stringify(agreementToOdrl(value)), 200, {
        "Content-Type": "application/ld+json",
      });
    }
    const [effective] = await withEffectiveStatuses(gw, [value]);
    return c.json(effective ?? value);
  });

  app.get("/:id/versions", async (c) => {
    await loadAgreement(gw, c.req.param("id"));
    return c.json({
      items: await gw.registry.listAgreementVersions(c.req.param("id")),
      next: null,
    });
  });

  app.patch("/:id", async (c) => {
    const patch = await readJsonWith(c, AgreementPatch);
    const { value, rev } = await loadAgreement(gw, c.req.param("id"));
    if (value.status === "terminated")
      throw new ConflictError("a terminated agreement cannot be amended");
    const { reason, quota, ...terms } = patch;
    const now = gw.clock();
    const amended: Agreement = {
      ...value,
      ...Object.fromEntries(Object.entries(terms).filter(([, v]) => v !== undefined)),
      ...(quota === undefined ? {} : quota === null ? { quota: undefined } : { quota }),
      version: value.version + 1,
      updatedAt: now.toISOString(),
    };
    enforceRules(checkAgreement(amended, await contextFor(gw, amended), now));
    const event = gw.outbox.newEvent(
      "agreement.amended",
      { kind: "agreement", id: value.id },
      reason ?? null,
      { version: amended.version },
      now,
    );
    await auditedWrite(
      gw,
      c,
      {
        action: "agreement.amend",
        target: `agreement:${value.id}`,
        reason: reason ?? null,
        partners: [value.provider, value.consumer],
        details: { version: amended.version, agreement: amended },
      },
      gw.registry.agreementOps(amended, rev, true),
      [event],
    );
    return c.json(amended);
  });

  for (const name of Object.keys(TRANSITIONS) as Transition[]) {
    app.post(`/:id/${name}`, async (c) => {
      const { reason } = await readJsonWith(c, ReasonBody);
      const t = TRANSITIONS[name];
      const updated = await changeStatus<Agreement>(gw, c, reason, {
        kind: "agreement",
        name,
        ...t,
        read: async () => {
          const { value, rev } = await loadAgreement(gw, c.req.param("id"));
          const [effective = value] = await withEffectiveStatuses(gw, [value]);
          return { value, rev, current: effective.status, shown: effective };
        },
        // An agreement that ended with a party's phase-out can only be marked terminated.
        allowed: (current) =>
          current === "ended"
            ? name === "terminate"
            : (t.from as readonly string[]).includes(current),
        partners: (a) => [a.provider, a.consumer],
        ops: (a, rev) => gw.registry.agreementOps(a, rev, false),
        shown: (a) => a,
      });
      return c.json(updated);
    });
  }

  return app;
}
