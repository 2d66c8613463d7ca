/** Lambda entry point of the exchange surface: a thin shell around createApp. */
import { createApp } from "../app.ts";
import { exchangeSurface } from "../surfaces/exchange.ts";
import { s3ObjectStore } from "./objects.ts";
import { lazyHandler, provideObjectStore } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

// Released bodies kept for Idempotency-Key retries live in the object store.
provideObjectStore(s3ObjectStore);

export const handler = lazyHandler((gw) => createApp(gw, [exchangeSurface]));
