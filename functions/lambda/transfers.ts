/**
 * Lambda entry point of the large transfers' routes (/v1/transfers*,
 * /v1/uploads): a thin shell around createApp. Only this function starts
 * jobs on the worker, so only its bundle carries the Lambda client.
 */
import { LambdaClient } from "@aws-sdk/client-lambda";
import { createApp } from "../app.ts";
import { transfersSurface } from "../surfaces/transfers.ts";
import { s3ObjectStore } from "./objects.ts";
import { lazyHandler, provideLambdaClient, provideObjectStore } from "./runtime.ts";
import { transferParts } from "./transfer-parts.ts";

export { awsClients } from "./runtime.ts";

// Transfer bodies and uploads live in the object store (URLs presigned with
// this role's credentials); transfer jobs start on the worker Lambda.
provideObjectStore(s3ObjectStore);
provideLambdaClient(new LambdaClient({}));

export const handler = lazyHandler((gw) => createApp(gw, [transfersSurface]), transferParts);
