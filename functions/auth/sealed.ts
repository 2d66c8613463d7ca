/**
 * Application-level encryption of what the gateway keeps for a while (the
 * bodies it may have to answer again): AES-256-GCM with a fresh 96-bit IV per
 * seal, and associated data that binds a sealed body to where it is stored,
 * so a body copied under another key does not open.
 *
 * Layout: version (1 byte, 1) || IV (12) || ciphertext || tag (16).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]);
}

/** The plaintext, or null when the sealed bytes were altered, truncated or sealed for other data. */
export function open(key: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array | null {
  if (sealed.byteLength < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) return null;
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const iv = bytes.subarray(1, 1 + IV_BYTES);
  const tag = bytes.subarray(bytes.byteLength - TAG_BYTES);
  const body = bytes.subarray(1 + IV_BYTES, bytes.byteLength - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return null;
  }
}

/** What sealing adds to a plaintext's length. */
export const SEAL_OVERHEAD = 1 + IV_BYTES + TAG_BYTES;
