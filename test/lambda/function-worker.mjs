/**
 * One Lambda "container" in a worker thread: its own environment (the
 * template's, resolved by the harness), the bundle imported once, and a
 * middleware on every AWS SDK client the bundle built (its `awsClients`
 * export) that records each call's command and input before it is sent.
 * Messages: { id, event, context? } → { id, result } | { id, error };
 * { id, take: "calls" } → { id, calls } (and forgets them).
 */
import { parentPort, workerData } from "node:worker_threads";

const mod = await import(workerData.bundleUrl);
let calls = [];
for (const [service, client] of Object.entries(mod.awsClients ?? {})) {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push({ service, command: context.commandName, input: args.input });
      return next(args);
    },
    { step: "initialize", name: "permissionRecorder", priority: "high" },
  );
}

let invocation = 0;
function lambdaContext(overrides) {
  const started = Date.now();
  invocation++;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: workerData.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:eu-north-1:123456789012:function:${workerData.functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: `${workerData.functionName}-${process.pid}-${invocation}`,
    logGroupName: `/aws/lambda/${workerData.functionName}`,
    logStreamName: "worker",
    getRemainingTimeInMillis: () => Math.max(0, 25_000 - (Date.now() - started)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
    ...overrides,
  };
}

parentPort.postMessage({ ready: true, clients: Object.keys(mod.awsClients ?? {}) });
parentPort.on("message", async (message) => {
  if (message.take === "calls") {
    const taken = calls;
    calls = [];
    parentPort.postMessage({ id: message.id, calls: taken });
    return;
  }
  try {
    const result = await mod.handler(message.event, lambdaContext(message.context ?? {}));
    parentPort.postMessage({ id: message.id, result });
  } catch (error) {
    parentPort.postMessage({
      id: message.id,
      error: { name: error?.name, message: String(error?.message ?? error) },
    });
  }
});
