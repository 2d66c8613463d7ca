/** Lambda entry point of the public meta surface (and of every unmatched route). */
import { createApp } from "../app.ts";
import { metaSurface } from "../surfaces/meta.ts";
import { lazyHandler } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

export const handler = lazyHandler((gw) => createApp(gw, [metaSurface]));
