/** Operators: named operator and finance clients, so the audit trail names who acted. */
import { Hono } from "hono";
import { newClientSecret } from "../auth/secrets.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { readJsonWith } from "../http/validate.ts";
import { auditedWrite } from "./common.ts";
import { rotateSecret } from "./partners.ts";
import { ClientInput } from "./schemas.ts";

export function clientsApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/", async (c) => {
    const { id, role } = await readJsonWith(c, ClientInput);
    const secret = newClientSecret();
    const now = gw.clock().toISOString();
    await auditedWrite(
      gw,
      c,
      { action: "client.create", target: `client:${id}`, details: { role } },
      [
        gw.registry.absentCheck({ pk: { S: `P#${id}` }, sk: { S: "P" } }),
        ...gw.credentials.clientOps(
          { id, role, secretHash: await gw.secrets.hash(secret), createdAt: now, updatedAt: now },
          null,
        ),
      ],
      [],
      `the id ${id} is taken`,
    );
    return c.json({ clientId: id, clientSecret: secret, role }, 201);
  });

  app.post("/:id/credentials", async (c) => {
    const id = c.req.param("id");
    const secret = await rotateSecret(gw, c, id, []);
    return c.json({ clientId: id, clientSecret: secret });
  });

  return app;
}
