/**
 * Lambda entry point of the exchange surface (and its large transfers, whose
 * jobs it starts on the worker): a thin shell around createApp.
 */
import { LambdaClient } from "@aws-sdk/client-lambda";
import { createApp } from "../app.ts";
import { exchangeSurface } from "../surfaces/exchange.ts";
import { s3ObjectStore } from "./objects.ts";
import { lazyHandler, provideLambdaClient, provideObjectStore } from "./runtime.ts";
import { transferParts } from "./transfer-parts.ts";

export { awsClients } from "./runtime.ts";

// Released bodies kept for Idempotency-Key retries and transfer bodies live
// in the object store; transfer jobs start on the worker Lambda.
provideObjectStore(s3ObjectStore);
provideLambdaClient(new LambdaClient({}));

export const handler = lazyHandler((gw) => createApp(gw, [exchangeSurface]), transferParts);
