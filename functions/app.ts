/**
 * createApp: the gateway as one Hono app made of the surfaces it is given.
 * The local server gives it all of them; each Lambda function gives it one,
 * so its bundle holds only that surface's code.
 */
import { Hono } from "hono";
import { invalidPath } from "./exchange/path.ts";
import type { Gateway } from "./gateway.ts";
import type { AppEnv } from "./http/env.ts";
import { requestId } from "./http/middleware.ts";
import { onError, onNotFound } from "./http/problem.ts";
import { rawPathProblem } from "./http/raw-path.ts";
import { rawTargetOf } from "./http/raw-target.ts";
import { traceContext } from "./telemetry/middleware.ts";

/** A part of the public surface: token, exchange, admin or metrics. */
export interface Surface {
  readonly name: string;
  mount(app: Hono<AppEnv>, gw: Gateway): void;
}

export function createApp(gw: Gateway, surfaces: readonly Surface[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId());
  app.use("*", traceContext());
  app.use("*", async function rejectPathTricks(c, next) {
    const problem = rawPathProblem(rawTargetOf(c));
    if (problem !== null) throw invalidPath(problem);
    await next();
  });
  app.onError(onError(gw.log));
  app.notFound(onNotFound);
  for (const surface of surfaces) surface.mount(app, gw);
  return app;
}
