/** Local signing keys: generated once under DATA_DIR, rotated with the previous key still published. */
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadOrCreateLocalKeys, rotateLocalKeys } from "../../../functions/auth/local-keys.ts";
import { issueAccessToken, TokenVerifier } from "../../../functions/auth/tokens.ts";

const settings = { issuer: "http://gw", audience: "http://gw", maxLifetimeSeconds: 900 };

describe("local signing keys", () => {
  it("are generated once and reused, with a private file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dsg-keys-"));
    const path = join(dir, "keys", "signing.json");
    const first = await loadOrCreateLocalKeys(path);
    const second = await loadOrCreateLocalKeys(path);
    expect(second.signer.kid).toBe(first.signer.kid);
    expect(second.publicJwks).toEqual(first.publicJwks);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(first.publicJwks)).not.toContain('"d"');
    expect(await readFile(path, "utf8")).toContain('"d"');
  });

  it("rotate: new tokens use the new key, tokens of the previous key still verify", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dsg-keys-"));
    const path = join(dir, "signing.json");
    const old = await loadOrCreateLocalKeys(path);
    const now = new Date();
    const { token: oldToken } = await issueAccessToken(
      old.signer,
      settings,
      { sub: "a", scopes: [], ttlSeconds: 60 },
      now,
    );
    const rotated = await rotateLocalKeys(path);
    expect(rotated.signer.kid).not.toBe(old.signer.kid);
    expect(rotated.publicJwks.map((k) => k.kid)).toEqual([rotated.signer.kid, old.signer.kid]);
    const verifier = new TokenVerifier(settings, rotated.publicJwks);
    expect((await verifier.verify(oldToken, now)).sub).toBe("a");
    const { token } = await issueAccessToken(
      rotated.signer,
      settings,
      { sub: "b", scopes: [], ttlSeconds: 60 },
      now,
    );
    expect(JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()).kid).toBe(
      rotated.signer.kid,
    );
  });
});
