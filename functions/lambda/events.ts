/**
 * Lambda entry point of the outbox deliveries, fed by the outbox table's
 * stream: every batch fans out new events and attempts the due deliveries.
 * A failure is thrown so that the stream retries the batch.
 */
import { processOutbox } from "../events/deliver.ts";
import type { Gateway } from "../gateway.ts";
import { parseLambdaEnv } from "./env.ts";
import { buildGateway } from "./runtime.ts";

let ready: Promise<Gateway> | undefined;

export const handler = async (): Promise<{ events: number; attempts: number }> => {
  ready ??= buildGateway(parseLambdaEnv(process.env)).catch((err: unknown) => {
    ready = undefined;
    throw err;
  });
  return processOutbox(await ready);
};
