// The verifier against the Standard Webhooks specification's vector (v1) and Svix's
// Ed25519 vector (v1a) over the same message, and against keys made here with Node's crypto.

import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { describe, it } from "node:test";

import { verifyWebhook, WebhookVerificationError } from "../src/index.js";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const publicKey = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=";
const id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const timestamp = "1614265330";
const body = '{"test": 2432232314}';
const v1 = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const v1a = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";
const now = Number(timestamp) * 1000;

function headers(signature: string, at = timestamp): Record<string, string> {
  return { "webhook-id": id, "webhook-timestamp": at, "webhook-signature": signature };
}

function refused(check: () => void, reason: RegExp): void {
  assert.throws(check, (err: unknown) => err instanceof WebhookVerificationError && reason.test(err.message));
}

describe("verifyWebhook", () => {
  it("accepts the specification's v1 vector and Svix's v1a vector", () => {
    verifyWebhook(secret, headers(v1), body, { now });
    verifyWebhook(publicKey, headers(v1a), body, { now });
    // Both in one header, as during a rotation from one scheme to the other.
    verifyWebhook([publicKey], headers(`${v1} ${v1a}`), Buffer.from(body), { now });
    verifyWebhook(secret, new Headers(headers(`${v1a} ${v1}`)), body, { now });
  });

  it("refuses an altered body, another key, or an entry of the other scheme", () => {
    refused(() => verifyWebhook(secret, headers(v1), body + " ", { now }), /no matching signature/);
    refused(() => verifyWebhook(publicKey, headers(v1a), '{"test": 1}', { now }), /no matching signature/);
    refused(() => verifyWebhook("whsec_" + Buffer.alloc(32, 1).toString("base64"), headers(v1), body, { now }), /no matching/);
    refused(() => verifyWebhook(secret, headers(v1a), body, { now }), /no matching signature/);
    refused(() => verifyWebhook(publicKey, headers(v1), body, { now }), /no matching signature/);
    refused(() => verifyWebhook(secret, headers("v1,"), body, { now }), /no matching signature/);
  });

  it("refuses timestamps more than five minutes away, either way", () => {
    verifyWebhook(secret, headers(v1), body, { now: now + 299_000 });
    refused(() => verifyWebhook(secret, headers(v1), body, { now: now + 301_000 }), /old/);
    refused(() => verifyWebhook(secret, headers(v1), body, { now: now - 301_000 }), /ahead/);
    refused(() => verifyWebhook(secret, headers(v1, "16142653x0"), body, { now }), /Unix time/);
    verifyWebhook(secret, headers(v1), body, { now: now + 3_600_000, toleranceSeconds: 7200 });
  });

  it("names the missing headers and refuses keys that cannot verify", () => {
    refused(() => verifyWebhook(secret, {}, body, { now }), /webhook-id, webhook-timestamp, webhook-signature/);
    refused(() => verifyWebhook("whsk_" + Buffer.alloc(64).toString("base64"), headers(v1a), body, { now }), /stays with the sender/);
    refused(() => verifyWebhook("whpk_AAAA", headers(v1a), body, { now }), /32 bytes/);
    refused(() => verifyWebhook([], headers(v1), body, { now }), /no key/);
    const many = Array.from({ length: 33 }, () => v1).join(" ");
    refused(() => verifyWebhook(secret, headers(many), body, { now }), /more than the 32/);
  });

  it("verifies what a sender signs with an Ed25519 key made by Node", () => {
    const { privateKey, publicKey: key } = generateKeyPairSync("ed25519");
    const raw = Buffer.from(key.export({ format: "jwk" }).x as string, "base64url");
    const at = String(Math.floor(Date.now() / 1000));
    const payload = Buffer.from('{"event_type":"promoter.created","name":"Zoë"}\n');
    const signature = sign(null, Buffer.concat([Buffer.from(`msg_node.${at}.`), payload]), privateKey).toString("base64");
    const signed = { "webhook-id": "msg_node", "webhook-timestamp": at, "webhook-signature": `v1a,${signature}` };
    verifyWebhook(`whpk_${raw.toString("base64")}`, signed, payload);
    refused(() => verifyWebhook(`whpk_${raw.toString("base64")}`, { ...signed, "webhook-id": "msg_other" }, payload), /no matching/);
  });
});
