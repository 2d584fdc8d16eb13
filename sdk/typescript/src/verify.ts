// Verifies the Standard Webhooks signatures hookflow puts on every request, with nothing
// but Node's crypto: `v1` entries are HMAC-SHA256 under a `whsec_` secret, `v1a` entries
// Ed25519 under a `whsk_` signing key, verified with its `whpk_` public key. Both sign
// `webhook-id + "." + webhook-timestamp + "." + body`.

import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from "node:crypto";

/** How far webhook-timestamp may lie from the receiver's clock before a request is refused as a possible replay. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

// A sender signs with its current key and the few it retired within the last day; more
// entries than this are a forged header meant to cost the receiver an Ed25519 check each.
const MAX_SIGNATURE_ENTRIES = 32;

/** A request's headers: Node's `req.headers` (lower-case names) or a fetch `Headers`. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** The receiver's clock, in milliseconds since the epoch; `Date.now()` by default. */
  now?: number;
  /** DEFAULT_TOLERANCE_SECONDS by default. */
  toleranceSeconds?: number;
}

/** Why a request was refused; its message says what was checked. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

type VerifyingKey = { kind: "secret"; key: Buffer } | { kind: "public"; key: KeyObject };

function parseKey(key: string): VerifyingKey {
  if (key.startsWith("whsk_")) {
    throw new WebhookVerificationError("a whsk_ signing key stays with the sender; verify with its whpk_ public key");
  }
  if (key.startsWith("whpk_")) {
    const raw = Buffer.from(key.slice("whpk_".length), "base64");
    if (raw.length !== 32) {
      throw new WebhookVerificationError(`a whpk_ public key holds 32 bytes, this one ${raw.length}`);
    }
    return { kind: "public", key: createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" }) };
  }
  // The prefix is optional, as in the reference libraries, so a bare base64 key works too.
  const raw = Buffer.from(key.startsWith("whsec_") ? key.slice("whsec_".length) : key, "base64");
  if (raw.length === 0) {
    // An empty HMAC key signs, but anyone can forge its signatures.
    throw new WebhookVerificationError("the whsec_ secret is empty or not base64");
  }
  return { kind: "secret", key: raw };
}

function header(headers: WebhookHeaders, name: string): string {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? "";
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? Object.entries(record).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value.join(", ") : (value ?? "");
}

/**
 * Checks the Standard Webhooks headers of a request against its body, exactly as received
 * (JSON decoded and encoded again no longer matches), under any of keys: `whsec_…` secrets
 * check `v1` entries, `whpk_…` public keys check `v1a` entries. Throws a
 * WebhookVerificationError when the headers are missing, the timestamp lies more than the
 * tolerance away, or no entry matches.
 */
export function verifyWebhook(keys: string | string[], headers: WebhookHeaders, body: Uint8Array | string, options: VerifyOptions = {}): void {
  const parsed = (Array.isArray(keys) ? keys : [keys]).map(parseKey);
  if (parsed.length === 0) {
    throw new WebhookVerificationError("no key to verify with");
  }
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  const missing = [
    ["webhook-id", id],
    ["webhook-timestamp", timestamp],
    ["webhook-signature", signatures],
  ].filter(([, value]) => !value).map(([name]) => name);
  if (missing.length > 0) {
    throw new WebhookVerificationError(`missing Standard Webhooks headers: ${missing.join(", ")}`);
  }
  if (!/^[0-9]+$/.test(timestamp)) {
    throw new WebhookVerificationError("webhook-timestamp is not a Unix time in seconds");
  }
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const skew = (options.now ?? Date.now()) / 1000 - Number(timestamp);
  if (Math.abs(skew) > tolerance) {
    throw new WebhookVerificationError(
      `webhook-timestamp ${timestamp} is ${Math.round(Math.abs(skew))} s ${skew > 0 ? "old" : "ahead"}, more than the ${tolerance} s tolerance`,
    );
  }
  const entries = signatures.split(/\s+/).filter(Boolean);
  if (entries.length > MAX_SIGNATURE_ENTRIES) {
    throw new WebhookVerificationError(`webhook-signature has ${entries.length} entries, more than the ${MAX_SIGNATURE_ENTRIES} accepted`);
  }

  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), typeof body === "string" ? Buffer.from(body) : body]);
  const expected = parsed.flatMap((k) => (k.kind === "secret" ? [createHmac("sha256", k.key).update(signed).digest()] : []));
  const publicKeys = parsed.flatMap((k) => (k.kind === "public" ? [k.key] : []));
  for (const entry of entries) {
    const comma = entry.indexOf(",");
    if (comma < 0) {
      continue;
    }
    const version = entry.slice(0, comma);
    const signature = Buffer.from(entry.slice(comma + 1), "base64");
    if (version === "v1") {
      // Constant-time, so response timing does not reveal how much of a guess was right;
      // the length of an HMAC-SHA256 is no secret.
      if (expected.some((want) => want.length === signature.length && timingSafeEqual(want, signature))) {
        return;
      }
    } else if (version === "v1a" && signature.length === 64) {
      if (publicKeys.some((key) => verify(null, signed, key, signature))) {
        return;
      }
    }
  }
  throw new WebhookVerificationError(
    `no matching signature: none of the webhook-signature entries matches the ${expected.length} whsec_ secrets or the ${publicKeys.length} whpk_ public keys`,
  );
}
