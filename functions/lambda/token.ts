/** Lambda entry point of the token surface: a thin shell around createApp. */
import { createApp } from "../app.ts";
import { tokenSurface } from "../surfaces/token.ts";
import { lazyHandler } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

export const handler = lazyHandler((gw) => createApp(gw, [tokenSurface]));
