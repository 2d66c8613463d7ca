/**
 * Access-token costs, in microseconds (median and p99): TokenVerifier.verify
 * of a token it has not seen (full ES256 verification and claim checks), of a
 * token it verified before (the bounded cache), of a forged token (refused
 * after the signature check), and issueAccessToken with a local key.
 *
 *   npx tsx -e "import('./bench/tokens.ts').then(m=>m.run())"
 */
import { ephemeralKeys } from "../functions/auth/local-keys.ts";
import { issueAccessToken, TokenVerifier } from "../functions/auth/tokens.ts";
import { emit, sampleMicros, summary } from "./stats.ts";

const SAMPLES = 3000;
const WARMUP = 200;
const ISSUER = "https://gateway.bench";
const SETTINGS = { issuer: ISSUER, audience: ISSUER, maxLifetimeSeconds: 900 };

export async function run(): Promise<void> {
  const keys = await ephemeralKeys();
  const now = new Date();
  const grant = {
    sub: "insureco",
    scopes: ["agreement:agr-1", "agreement:agr-2"],
    ttlSeconds: 900,
    bind: {
      "agr-1": { provider: "fleetco", consumer: "insureco", dataset: "vehicle-telemetry" },
      "agr-2": { provider: "fleetco", consumer: "insureco", dataset: "trips" },
    },
  };
  const issue = async () => (await issueAccessToken(keys.signer, SETTINGS, grant, now)).token;

  const issued = await sampleMicros(issue, SAMPLES, WARMUP);
  emit({ bench: "tokens", figure: "issueAccessToken", ...summary(issued) });

  // First-seen: every call verifies a token this verifier has never cached.
  const fresh: string[] = [];
  for (let i = 0; i < SAMPLES + WARMUP; i++) fresh.push(await issue());
  const firstSeen = new TokenVerifier(SETTINGS, keys.publicJwks, SAMPLES + WARMUP + 1);
  let next = 0;
  const seen = await sampleMicros(
    () => firstSeen.verify(fresh[next++] as string, now),
    SAMPLES,
    WARMUP,
  );
  emit({
    bench: "tokens",
    figure: "verify first-seen",
    tokenChars: fresh[0]?.length,
    ...summary(seen),
  });

  // Repeated: the same token, answered from the cache after its first verification.
  const cachedVerifier = new TokenVerifier(SETTINGS, keys.publicJwks);
  const repeated = fresh[0] as string;
  const cached = await sampleMicros(() => cachedVerifier.verify(repeated, now), SAMPLES, WARMUP);
  emit({ bench: "tokens", figure: "verify cached", ...summary(cached) });

  // Forged: a valid shape with another key's signature, refused every time (never cached).
  const other = await ephemeralKeys();
  const forged = (
    await issueAccessToken({ kid: keys.signer.kid, sign: other.signer.sign }, SETTINGS, grant, now)
  ).token;
  const refusing = new TokenVerifier(SETTINGS, keys.publicJwks);
  const refused = await sampleMicros(
    () =>
      refusing.verify(forged, now).then(
        () => {
          throw new Error("a forged token verified");
        },
        () => undefined,
      ),
    SAMPLES,
    WARMUP,
  );
  emit({ bench: "tokens", figure: "verify forged (refused)", ...summary(refused) });
}
