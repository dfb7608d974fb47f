// Placing the order: POST /api/v1/orders with an Idempotency-Key.
//
// One key per placing attempt, kept in sessionStorage until the shop answers that attempt.
// Without an answer (the connection dropped, the shop failed), the key stays: pressing
// "Place order" again (even after a reload) sends the same key with the same body, and the
// shop replays its first answer instead of placing a second order. Every answer, a refusal
// included, ends the attempt: the next press is a new attempt with a new key. While the
// first request is still running the shop says 409 with Retry-After; we wait and ask again.

import { send } from "./checkout-api.js";
import { attempt, placed } from "./checkout-store.js";

const IN_FLIGHT = "idempotency_key_in_flight";
const MAX_WAITS = 8;

const sleep = (seconds) => new Promise((done) => setTimeout(done, seconds * 1000));

async function post(body, key) {
  for (let waits = 0; ; waits += 1) {
    try {
      return await send("POST", "/api/v1/orders", { body, idempotencyKey: key });
    } catch (error) {
      if (error.status !== 409 || error.code !== IN_FLIGHT || waits >= MAX_WAITS) throw error;
      await sleep(Math.min(Math.max(error.retryAfter || 1, 1), 5));
    }
  }
}

/** Whether an error is the shop's answer to the attempt (true) or no answer at all. */
function answered(error) {
  return error.status >= 400 && error.status < 500 && error.code !== IN_FLIGHT;
}

/**
 * Place the order described by `body`. On success the answer is kept for the
 * confirmation page and {placed: answer} returned (the caller empties the cart). Otherwise
 * {error, answered}: `answered` false means the order may or may not have been placed,
 * and the same body must be sent again (same key) to find out.
 */
export async function placeOrder(body) {
  let answer;
  try {
    answer = await post(body, attempt.key());
  } catch (error) {
    const final = answered(error);
    if (final) attempt.answered();
    return { error, answered: final };
  }
  attempt.answered();
  placed.save(answer);
  return { placed: answer };
}

export const attemptPending = () => attempt.pending();
