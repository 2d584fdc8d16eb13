// Checks hookflow's v1a signatures with Node's own crypto, independently of Go's: the
// signing tests pipe {"verify": [...], "sign": [...]} in and read the results as JSON.
// The part between the two marker lines is the README's Node receiver, verbatim.

// --- README snippet: from here ---
import { createPublicKey, verify } from "node:crypto";

// True when the request carries a v1a signature under publicKey ("whpk_…"). headers are
// Node's (lower-case names), body the raw bytes received as a Buffer, now in milliseconds.
// In a handler: if (!verifyWebhook(WEBHOOK_PUBLIC_KEY, req.headers, body)) answer 401.
function verifyWebhook(publicKey, headers, body, now = Date.now()) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"] ?? "";
  if (!id || !/^[0-9]+$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > 5 * 60) {
    return false; // no id, or a timestamp over 5 minutes away: possibly a replay
  }
  const x = Buffer.from(publicKey.slice("whpk_".length), "base64").toString("base64url");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  return (headers["webhook-signature"] ?? "").split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    return version === "v1a" && !!signature && verify(null, signed, key, Buffer.from(signature, "base64"));
  });
}
// --- README snippet: to here ---

import { createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";

// Signs as a Standard Webhooks sender does, so that Go's verification is also checked
// against a signer other than its own. A whsk_ key is the seed followed by the public key.
function signWebhook(signingKey, id, timestamp, body) {
  const raw = Buffer.from(signingKey.slice("whsk_".length), "base64");
  const jwk = {
    kty: "OKP",
    crv: "Ed25519",
    d: raw.subarray(0, 32).toString("base64url"),
    x: raw.subarray(32).toString("base64url"),
  };
  const key = createPrivateKey({ key: jwk, format: "jwk" });
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  return "v1a," + sign(null, signed, key).toString("base64");
}

// A verification that throws instead of answering false would crash a receiver on a
// forged request, so it is reported rather than let through as either answer.
function attempt(check) {
  try {
    return check();
  } catch (err) {
    return `threw: ${err.message}`;
  }
}

const input = JSON.parse(readFileSync(0, "utf8"));
const output = {
  verify: (input.verify ?? []).map((c) =>
    attempt(() => verifyWebhook(c.publicKey, c.headers, Buffer.from(c.body, "base64"), c.now)),
  ),
  sign: (input.sign ?? []).map((c) => signWebhook(c.signingKey, c.id, c.timestamp, Buffer.from(c.body, "base64"))),
};
process.stdout.write(JSON.stringify(output));
