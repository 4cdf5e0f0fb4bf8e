-- Inbound webhook deliveries that started a run (migration 001's webhook_deliveries are the outbound
-- ones), keyed by (hook, delivery id): a sender's retry of the same delivery (GitHub X-GitHub-Delivery,
-- Standard Webhooks webhook-id) finds its row and gets the original run instead of a second one. A row
-- is written in the same transaction as its run, so neither exists without the other.
CREATE TABLE inbound_webhook_deliveries (
  hook TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  event TEXT,
  received_at TEXT NOT NULL,
  PRIMARY KEY (hook, delivery_id)
);
CREATE INDEX inbound_webhook_deliveries_run ON inbound_webhook_deliveries (run_id);
