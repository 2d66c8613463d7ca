/**
 * The embedded object store for the local server and the tests: an
 * S3-compatible server (the s3rver package) in this process, on a loopback
 * port, keeping its objects in a directory (under DATA_DIR for `npm start`,
 * a temporary one for tests). s3rver checks no signatures and has no
 * lifecycle rules: the gateway never hands out its URLs, and sweeps what
 * would expire itself (functions/local/replay-sweeper.ts).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

export interface S3Local {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startS3Local(options: {
  /** Where objects are kept; null: a temporary directory removed at stop. */
  directory: string | null;
}): Promise<S3Local> {
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), "dsg-s3-")));
  await mkdir(directory, { recursive: true });
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await server.close().catch(() => undefined);
      if (options.directory === null) await rm(directory, { recursive: true, force: true });
    },
  };
}
