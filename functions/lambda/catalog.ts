/** Lambda entry point of partner self-service (catalog, offers, agreement requests). */
import { createApp } from "../app.ts";
import { selfServiceSurface } from "../surfaces/self-service.ts";
import { lazyHandler } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

export const handler = lazyHandler((gw) => createApp(gw, [selfServiceSurface]));
