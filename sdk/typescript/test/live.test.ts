// The client against a running hookflow, whose URL and admin key come from HOOKFLOW_URL
// and HOOKFLOW_ADMIN_KEY: e2e/sdk_typescript_test.go starts one and runs these tests.

import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import {
  createClient,
  deliveries,
  HookflowError,
  isHookflowError,
  ok,
  verifyWebhook,
  WebhookVerificationError,
  type HookflowClient,
  type Schemas,
} from "../src/index.js";

const baseUrl = process.env.HOOKFLOW_URL ?? "";
const adminKey = process.env.HOOKFLOW_ADMIN_KEY ?? "";
const skip = baseUrl && adminKey ? false : "HOOKFLOW_URL and HOOKFLOW_ADMIN_KEY are not set (go test ./e2e -run TypeScript sets them)";

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An endpoint that answers 200 to everything and keeps what it got. */
function startReceiver(): Promise<{ server: Server; url: string; next: (eventId: string) => Promise<Received> }> {
  const received: Received[] = [];
  const waiting: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end("ok");
      waiting.splice(0).forEach((wake) => wake());
    });
  });
  const next = async (eventId: string): Promise<Received> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = received.find((r) => JSON.parse(r.body.toString()).event_id === eventId);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no webhook for event ${eventId} within 30 s`);
      await new Promise<void>((wake) => {
        waiting.push(wake);
        setTimeout(wake, 200);
      });
    }
  };
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/hooks`, next });
    });
  });
}

describe("against a live hookflow", { skip }, () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let hookflow: HookflowClient;
  let subscription: Schemas["SubscriptionCreated"];
  let ingested: Schemas["Ingested"];

  before(async () => {
    receiver = await startReceiver();
  });
  after(() => {
    receiver?.server.close();
  });

  it("creates an account with the admin key", async () => {
    const admin = createClient({ baseUrl, apiKey: adminKey });
    const account = await ok(admin.POST("/v1/accounts", { body: { name: "TypeScript client" } }));
    assert.match(account.api_key, /^hfk_/);
    hookflow = createClient({ baseUrl, apiKey: account.api_key });
  });

  it("subscribes an endpoint", async () => {
    subscription = await ok(
      hookflow.POST("/v1/subscriptions", { body: { url: receiver.url, event_types: ["sdk.*"], description: "TypeScript client test" } }),
    );
    assert.match(subscription.secret_key ?? "", /^whsec_/);
    const listed = await ok(hookflow.GET("/v1/subscriptions"));
    assert.deepEqual(
      listed.data.map((s) => s.id),
      [subscription.id],
    );
  });

  it("posts an event, and the same post again is answered from the Idempotency-Key", async () => {
    const post = () =>
      hookflow.POST("/v1/events", {
        params: { header: { "Idempotency-Key": "sdk-typescript-1" } },
        body: { event_type: "sdk.tested", action: "created", entity_type: "sdk", entity_id: 1, data: { language: "TypeScript" } },
      });
    const first = await post();
    ingested = first.data!;
    assert.equal(first.response.status, 202);
    assert.equal(ingested.deliveries.length, 1);
    const again = await post();
    assert.equal(again.data!.event_id, ingested.event_id);
    assert.equal(again.response.headers.get("Idempotent-Replayed"), "true");
  });

  it("the endpoint receives it, signed under the subscription's secret", async () => {
    const secret = subscription.secret_key!;
    const got = await receiver.next(ingested.event_id);
    verifyWebhook(secret, got.headers, got.body);
    assert.throws(() => verifyWebhook(secret, got.headers, Buffer.concat([got.body, Buffer.from(" ")])), WebhookVerificationError);
    const other = "whsec_" + Buffer.alloc(32, 7).toString("base64");
    assert.throws(() => verifyWebhook(other, got.headers, got.body), WebhookVerificationError);
  });

  it("an ed25519 subscription's webhooks verify with its public key", async () => {
    const signed = await ok(
      hookflow.POST("/v1/subscriptions", { body: { url: receiver.url, event_types: ["asymmetric.*"], signature_scheme: "ed25519" } }),
    );
    assert.match(signed.public_key ?? "", /^whpk_/);
    const event = await ok(hookflow.POST("/v1/events", { body: { event_type: "asymmetric.tested" } }));
    const got = await receiver.next(event.event_id);
    verifyWebhook(signed.public_key!, got.headers, got.body);
    assert.throws(() => verifyWebhook(subscription.secret_key!, got.headers, got.body), WebhookVerificationError);
    await ok(hookflow.DELETE("/v1/subscriptions/{id}", { params: { path: { id: signed.id } } }));
  });

  it("reads the delivery as delivered, with its attempt", async () => {
    const id = String(ingested.deliveries[0]!.id);
    let delivery: Schemas["DeliveryDetail"];
    const deadline = Date.now() + 30_000;
    for (;;) {
      delivery = await ok(hookflow.GET("/v1/deliveries/{id}", { params: { path: { id } } }));
      if (delivery.status === "delivered" || Date.now() > deadline) break;
      await new Promise((wake) => setTimeout(wake, 100));
    }
    assert.equal(delivery.status, "delivered");
    assert.equal(delivery.event_id, ingested.event_id);
    assert.equal(delivery.attempt_log[0]?.response_code, 200);
  });

  it("pages through the deliveries, newest first", async () => {
    for (let n = 2; n <= 5; n++) {
      await ok(hookflow.POST("/v1/events", { body: { event_type: "sdk.tested", entity_id: n } }));
    }
    const ids: number[] = [];
    for await (const delivery of deliveries(hookflow, { limit: 2, subscription_id: subscription.id })) {
      ids.push(delivery.id);
    }
    assert.equal(ids.length, 5);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
  });

  it("answers a wrong key with a typed 401 and an unknown delivery with a typed 404", async () => {
    const stranger = createClient({ baseUrl, apiKey: "hfk_0000000000000000_wrong" });
    await assert.rejects(stranger.GET("/v1/subscriptions"), (err: unknown) => {
      assert.ok(err instanceof HookflowError);
      assert.equal(err.status, 401);
      assert.equal(err.code, "unauthorized");
      assert.ok(err.message.length > 0);
      return true;
    });
    await assert.rejects(hookflow.GET("/v1/deliveries/{id}", { params: { path: { id: "999999" } } }), (err: unknown) =>
      isHookflowError(err, "not_found"),
    );
  });
});
