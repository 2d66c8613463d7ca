/**
 * The transfer worker and the AWS dispatcher as Lambda runs them: the
 * worker's bundle (the CDK app's esbuild options) invoked with the event an
 * asynchronous invocation carries (the dispatcher's payload, `{ "transferId" }`)
 * against DynamoDB Local and the run's s3rver; Lambda's retry of the same
 * event; events that are no job. The dispatcher against a loopback Lambda
 * endpoint: an `Event` invocation of the alias it names, and a refusal.
 */
import { randomUUID } from "node:crypto";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keysFromFile, newPrivateJwk } from "../../functions/auth/local-keys.ts";
import { StoreUnavailableError } from "../../functions/errors.ts";
import { LambdaTransferDispatcher } from "../../functions/lambda/transfer-dispatch.ts";
import type { S3ObjectStore } from "../../functions/store/objects.ts";
import { type TransferRecord, TransferStore } from "../../functions/store/transfers.ts";
import { bodyKey, transferPrefix } from "../../functions/transfers/keys.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, createTestObjectStore, type TestGateway } from "../support/gateway.ts";
import { importBundle, useLambdaEnvironment } from "./bundle-env.ts";
import { httpApiEvent, lambdaContext } from "./events.ts";
import { type FakeLambda, startFakeLambda } from "./fake-lambda.ts";
import type { HostedFunction } from "./host.ts";

type WorkerHandler = (event: unknown, context: unknown) => Promise<unknown>;

let t: TestGateway;
let eco: Ecosystem;
let objects: S3ObjectStore;
let handler: WorkerHandler;

beforeAll(async () => {
  const jwk = await newPrivateJwk();
  objects = await createTestObjectStore();
  t = await createTestGateway({ keys: keysFromFile({ current: jwk }), objects });
  eco = await createEcosystem(t);
  useLambdaEnvironment(t, jwk, objects);
  handler = (await importBundle<{ handler: WorkerHandler }>("transferWorker")).handler;
}, 120_000);

afterAll(() => eco?.close());

/** A read transfer as POST /v1/transfers creates it: running, no attempt yet. */
async function runningRead(): Promise<TransferRecord> {
  const at = new Date().toISOString();
  const record: TransferRecord = {
    id: `trf-${randomUUID()}`,
    agreement: eco.agreement,
    direction: "read",
    state: "running",
    createdAt: at,
    updatedAt: at,
    provider: eco.ids.provider,
    consumer: eco.ids.consumer,
    dataset: eco.ids.dataset,
    purpose: "insurance-pricing",
    subpath: null,
    query: null,
    contentType: null,
    contentEncoding: null,
    records: null,
    bytes: null,
    sha256: null,
    code: null,
    readyAt: null,
    bodyExpiresAt: null,
    attempt: 0,
    leaseUntil: null,
    requestId: randomUUID(),
  };
  await new TransferStore(t.gw.db).create(record);
  return record;
}

/** The context Lambda gives an asynchronous invocation of the worker (15 minutes left). */
const asyncContext = {
  ...lambdaContext,
  functionName: "transferWorker",
  invokedFunctionArn: "arn:aws:lambda:eu-north-1:123456789012:function:transferWorker:live",
  getRemainingTimeInMillis: () => 900_000,
};

describe("the transfer worker's handler, bundled", () => {
  it("runs the job its event names to ready, and Lambda's retry of the same event does nothing", async () => {
    const transfer = await runningRead();
    const event = JSON.parse(JSON.stringify({ transferId: transfer.id }));
    expect(await handler(event, asyncContext)).toEqual({
      transferId: transfer.id,
      state: "ready",
      ran: true,
    });
    const ready = await new TransferStore(t.gw.db).get(transfer.id);
    expect(ready).toMatchObject({ state: "ready", records: 2, attempt: 1 });
    const body = await objects.get(bodyKey(transfer.id, 1), "test");
    expect(body?.byteLength).toBe(ready?.bytes);
    // The retry finds the transfer ready: no second run, no second metering.
    expect(await handler(event, asyncContext)).toEqual({
      transferId: transfer.id,
      state: "ready",
      ran: false,
    });
    expect(await new TransferStore(t.gw.db).get(transfer.id)).toEqual(ready);
    expect((await objects.list(transferPrefix(transfer.id), "test")).map((o) => o.key)).toEqual([
      bodyKey(transfer.id, 1),
    ]);
  });

  it("answers a job whose transfer does not exist without running anything", async () => {
    expect(await handler({ transferId: "trf-none" }, asyncContext)).toEqual({
      transferId: "trf-none",
      state: undefined,
      ran: false,
    });
  });

  it.each([
    ["an HTTP API event", httpApiEvent("POST", "/v1/transfers", { body: "{}" })],
    ["an empty object", {}],
    ["an empty id", { transferId: "" }],
    ["a number for the id", { transferId: 7 }],
    ["nothing", null],
  ])(
    "refuses %s: not a job (Lambda retries it, then the failure queue shows it)",
    async (_, event) => {
      await expect(handler(event, asyncContext)).rejects.toThrow(/not a transfer job/);
    },
  );
});

describe("the AWS transfer dispatcher", () => {
  let lambda: FakeLambda;
  const received: unknown[] = [];
  const ALIAS = "arn:aws:lambda:eu-north-1:123456789012:function:transferWorker:live";
  const client = () =>
    new LambdaClient({
      endpoint: lambda.endpoint,
      region: "eu-north-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    });

  beforeAll(async () => {
    lambda = await startFakeLambda();
    // A stand-in for the worker: it records the events Lambda would hand it.
    const worker: Pick<HostedFunction, "name" | "invoke"> = {
      name: "transferWorker",
      invoke: async (event) => {
        received.push(event);
        return { ok: true };
      },
    };
    lambda.addFunction(ALIAS, worker as HostedFunction);
  });
  afterAll(() => lambda?.close());

  it("queues the job as an Event invocation of the worker's alias, its payload the job", async () => {
    await new LambdaTransferDispatcher(client(), ALIAS).dispatch({ transferId: "trf-1" });
    expect(await lambda.settled()).toEqual([
      { functionName: "transferWorker", event: { transferId: "trf-1" }, result: { ok: true } },
    ]);
    expect(received).toEqual([{ transferId: "trf-1" }]);
  });

  it("fails as a store fault (503) when Lambda does not take the job", async () => {
    const dispatcher = new LambdaTransferDispatcher(
      client(),
      "arn:aws:lambda:eu-north-1:123456789012:function:nothing:live",
    );
    const err = await dispatcher.dispatch({ transferId: "trf-2" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).status).toBe(503);
    expect(await lambda.settled()).toEqual([]);
  });
});
