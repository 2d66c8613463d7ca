// Placeholder until the OpenAPI document lands.
import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";

export function openapiApp(): Hono<AppEnv> {
  return new Hono<AppEnv>();
}
