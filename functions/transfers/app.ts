/**
 * Large transfers' routes (the contract's "Large transfers"): outside
 * `/v1/exchange/` so that no dataset subpath is taken from providers; the
 * token needs the agreement's scope as for an exchange, and a DPoP- or
 * certificate-bound token its proof (authenticate).
 */
import { type Context, Hono } from "hono";
import { Purpose } from "../../policies/model.ts";
import { InvalidRequestError } from "../errors.ts";
import { IDEMPOTENCY_KEY } from "../exchange/app.ts";
import type { Gateway } from "../gateway.ts";
import { authenticate } from "../http/auth.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith, readJsonWith } from "../http/validate.ts";
import { TransferInput, TransferListQuery, UploadInput } from "./schemas.ts";
import { type Caller, TransferService, viewOf } from "./service.ts";

export function transfersApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const service = new TransferService(gw);

  // Hono's `/v1/transfers/*` matches `/v1/transfers` too: one registration,
  // so a request is authenticated once (a DPoP proof checked twice would
  // read as its own replay).
  app.use("/v1/transfers/*", authenticate(gw));
  app.use("/v1/uploads", authenticate(gw));

  app.post("/v1/transfers", async (c) => {
    const input = await readJsonWith(c, TransferInput);
    const key = c.req.header("Idempotency-Key");
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
      throw new InvalidRequestError("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    const { transfer, created } = await service.start(callerOf(c), input, key);
    return c.json(viewOf(transfer, null, null), created ? 202 : 200, {
      Location: `/v1/transfers/${transfer.id}`,
      "Cache-Control": "no-store",
    });
  });

  app.get("/v1/transfers", async (c) => {
    const q = parseWith(TransferListQuery, c.req.query());
    const caller = callerOf(c);
    const agreement = q.agreement ?? onlyAgreementOf(caller);
    return c.json(await service.list(caller, agreement, q.limit, q.cursor), 200, {
      "Cache-Control": "no-store",
    });
  });

  app.get("/v1/transfers/:id", async (c) => {
    const view = await service.show(callerOf(c), c.req.param("id"));
    return c.json(view, 200, { "Cache-Control": "no-store" });
  });

  app.post("/v1/transfers/:id/complete", async (c) => {
    const t = await service.complete(callerOf(c), c.req.param("id"));
    return c.json(viewOf(t, null, null), 202, {
      Location: `/v1/transfers/${t.id}`,
      "Cache-Control": "no-store",
    });
  });

  app.post("/v1/uploads", async (c) => {
    const input = await readJsonWith(c, UploadInput);
    const upload = await service.openUpload(callerOf(c), input);
    return c.json(upload, 201, {
      Location: `/v1/transfers/${upload.id}`,
      "Cache-Control": "no-store",
    });
  });

  return app;
}

/** The one agreement a token carries, for a list that names none. */
function onlyAgreementOf(caller: Caller): string {
  const agreements = caller.claims.scopes.filter((s) => s.startsWith("agreement:"));
  const [only] = agreements;
  if (only === undefined || agreements.length > 1)
    throw new InvalidRequestError("agreement", "name the agreement (the token carries several)");
  return only.slice("agreement:".length);
}

function callerOf(c: Context<AppEnv>): Caller {
  const purpose = c.req.header("Data-Purpose");
  if (purpose !== undefined && !Purpose.safeParse(purpose).success)
    throw new InvalidRequestError("Data-Purpose", "is not a purpose token");
  return { claims: c.get("claims"), purpose, requestId: c.get("requestId") };
}
