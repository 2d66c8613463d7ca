/** Operators: agreements (JSON or ODRL), amendments as versions, and their lifecycle. */
import { type Context, Hono } from "hono";
import { type AgreementContext, checkAgreement, sharesOf } from "../../policies/agreement-rules.ts";
import { type Agreement, AgreementInput, AgreementPatch, Id } from "../../policies/model.ts";
import { agreementToOdrl, odrlToAgreementInput } from "../../policies/odrl/index.ts";
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
import { auditedWrite, PageQuery, ReasonBody } from "./common.ts";

type Transition = "suspend" | "resume" | "terminate";

const TRANSITIONS: Readonly<
  Record<
    Transition,
    { from: readonly Agreement["status"][]; to: Agreement["status"]; event: EventType }
  >
> = {
  suspend: { from: ["active"], to: "suspended", event: "agreement.suspended" },
  resume: { from: ["suspended"], to: "active", event: "agreement.resumed" },
  terminate: { from: ["active", "suspended"], to: "terminated", event: "agreement.terminated" },
};

export const AgreementListQuery = PageQuery.extend({ partner: Id.optional() });

export async function loadAgreement(gw: Gateway, id: string) {
  const found = await gw.registry.getAgreement(id);
  if (found === undefined)
    throw new NotFoundError("agreement_not_found", `agreement ${id} does not exist`);
  return found;
}

async function contextFor(
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
    return c.json(await gw.registry.listAgreements(q.limit, q.cursor, q.partner));
  });

  app.get("/:id", async (c) => {
    const { value } = await loadAgreement(gw, c.req.param("id"));
    if (wantsLd(c.req.header("Accept"))) {
      return c.body(JSON.stringify(agreementToOdrl(value)), 200, {
        "Content-Type": "application/ld+json",
      });
    }
    return c.json(value);
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
      const { value, rev } = await loadAgreement(gw, c.req.param("id"));
      if (value.status === t.to) return c.json(value);
      if (!t.from.includes(value.status))
        throw new ConflictError(`a ${value.status} agreement cannot be ${name}d`);
      const now = gw.clock();
      const updated: Agreement = {
        ...value,
        status: t.to,
        statusReason: reason,
        updatedAt: now.toISOString(),
      };
      const event = gw.outbox.newEvent(
        t.event,
        { kind: "agreement", id: value.id },
        reason,
        { status: t.to },
        now,
      );
      await auditedWrite(
        gw,
        c,
        {
          action: `agreement.${name}`,
          target: `agreement:${value.id}`,
          reason,
          partners: [value.provider, value.consumer],
          details: { from: value.status, to: t.to },
        },
        gw.registry.agreementOps(updated, rev, false),
        [event],
      );
      return c.json(updated);
    });
  }

  return app;
}
