/**
 * Operators on the self-service surface: offers on any dataset (published
 * for its owner), and every agreement request, which they may approve or
 * reject (the console lists the pending ones).
 */
import { Hono } from "hono";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith, readJsonWith, readOptionalJson } from "../http/validate.ts";
import { SelfServiceStore } from "../store/self-service.ts";
import { operatorActor } from "./actor.ts";
import { listOffers, publishOffer, withdrawOffer } from "./offers.ts";
import { idParam, stepReason } from "./params.ts";
import { readRequest, stepRequest } from "./requests.ts";
import {
  AdminRequestListQuery,
  OfferInput,
  OfferListQuery,
  OptionalReasonBody,
} from "./schemas.ts";

/** Mounted at /admin/datasets next to the datasets' own routes. */
export function adminOffersApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/:id/offers", async (c) => {
    const input = await readJsonWith(c, OfferInput);
    return c.json(await publishOffer(gw, c, idParam(c, "id"), input, operatorActor(c)), 201);
  });

  app.get("/:id/offers", async (c) => {
    const { status } = parseWith(OfferListQuery, c.req.query());
    const items = await listOffers(gw, idParam(c, "id"), status, operatorActor(c));
    return c.json({ items, next: null });
  });

  app.delete("/:id/offers/:offer", async (c) => {
    const { reason } = parseWith(OptionalReasonBody, await readOptionalJson(c));
    return c.json(
      await withdrawOffer(gw, c, idParam(c, "id"), idParam(c, "offer"), reason, operatorActor(c)),
    );
  });

  return app;
}

/** Mounted at /admin/agreement-requests. */
export function adminRequestsApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const q = parseWith(AdminRequestListQuery, c.req.query());
    return c.json(
      await new SelfServiceStore(gw.db).listRequests(
        { state: q.state, partner: q.partner },
        q.limit,
        q.cursor,
      ),
    );
  });

  app.get("/:id", async (c) => c.json(await readRequest(gw, idParam(c, "id"), operatorActor(c))));

  for (const step of ["approve", "reject"] as const) {
    app.post(`/:id/${step}`, async (c) => {
      const reason = await stepReason(c, step);
      return c.json(await stepRequest(gw, c, idParam(c, "id"), step, operatorActor(c), reason));
    });
  }

  return app;
}
