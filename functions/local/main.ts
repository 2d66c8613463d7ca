/**
 * `npm start`: the whole gateway on one machine. Starts DynamoDB Local (or
 * uses DYNAMODB_ENDPOINT), creates the tables, makes sure the operator and
 * finance clients exist, seeds the demo ecosystem with its backends unless
 * DEMO=0, serves every route on PORT and prints a tour. Ctrl-C stops it all.
 */

import { parseLocalEnv } from "./config.ts";
import { JavaMissingError } from "./dynamo-local.ts";
import { startLocalGateway } from "./server.ts";

async function main(): Promise<void> {
  // The SDK warns that releases after January 2027 will need Node 22; the
  // Lambda runtime is Node 22 and the local server is documented for Node 20+.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const config = parseLocalEnv(process.env);
  const started = Date.now();
  const gateway = await startLocalGateway(config);
  process.stdout.write(
    `${gateway.tour}\n(ready in ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping...\n`);
    await gateway.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((err: unknown) => {
  if (err instanceof JavaMissingError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(
      `the gateway could not start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
  }
  process.exit(1);
});
