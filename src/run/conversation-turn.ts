// A response's turn on a conversation: the conversation is claimed before its items are read, so a
// second response on it is refused while one runs (OpenAI's `conversation_locked` 400), and the turn
// ends by appending the response's items in one batch and releasing the claim. The claim is a lease
// its run renews (a dead holder frees the conversation within a minute); a foreground turn whose
// client left yields it to the next claim (the recorder's `yieldClaim`). Used by the stored runs
// (claim, abandon; their renewals ride the heartbeat and their append the terminal write) and the
// store:false path (which renews on a timer of its own).

import { runBatch, type Db, type Statement } from "../db/client";
import { storageRefused } from "../db/failures";
import { retryWrite } from "../db/retry";
import {
  appendItemsStatements,
  APPENDED_STATUSES,
  claimConversation,
  findConversation,
  releaseConversationStatement,
  renewClaimStatement,
} from "../db/conversations";
import { findResponse } from "../db/responses";
import { ApiError, conversationNotFound } from "../errors";
import { logD1Problem, logFailure } from "../observe/problems";
import { newId } from "../responses/ids";
import { storedItems } from "../responses/items";
import { claimHolders } from "../stream/client-checks";
import { yieldedClaims } from "../stream/local-stops";
import { TERMINAL_STATUSES, type InputItem, type ResponseObject } from "../responses/types";
import type { BackgroundSnapshot } from "./context";
import type { RunSpec } from "./spec";

/** OpenAI's wording for a conversation another response is running on. */
export const CONVERSATION_LOCKED_MESSAGE =
  "Another process is currently operating on this conversation. Please retry in a few seconds.";

/** How long a claim lasts unless renewed: a holder that died frees the conversation by then. */
export const CLAIM_LEASE_SECONDS = 60;
/** How often a store:false turn renews its claim (stored runs renew with their heartbeat). */
const RENEW_EVERY_MS = 20_000;

/** When a claim made or renewed now lapses (unix seconds). */
export const leaseUntil = (): number => Math.floor(Date.now() / 1000) + CLAIM_LEASE_SECONDS;
/**
 * Attempts of the store:false append before its client is told it was refused: as many as a stored
 * run's end gets (src/stream/foreground.ts), about 5 s of pauses, an outage's worth.
 */
const APPEND_ATTEMPTS = 7;
/** Longest pause between two attempts of the append. */
const MAX_APPEND_PAUSE_MS = 2_000;

/** D1 refused a store:false turn's append: `cause`, the last refusal. */
export interface AppendRefused {
  cause: unknown;
}

export class ConversationTurn {
  #settled = false;

  private constructor(
    readonly db: Db,
    readonly tenantId: string,
    readonly conversationId: string,
    readonly responseId: string,
  ) {}

  /** The turn of `spec`'s create, claimed (see `begin`); null when it names no conversation. */
  static async ofCreate(
    db: Db,
    spec: Pick<RunSpec, "tenantId" | "responseId" | "request">,
    background?: BackgroundSnapshot,
  ): Promise<ConversationTurn | null> {
    const { conversationId } = spec.request;
    if (conversationId === null) return null;
    return ConversationTurn.begin(db, spec.tenantId, conversationId, spec.responseId, background);
  }

  /**
   * Claims the conversation for `responseId`; 404 if the tenant has no such conversation, 400 if busy.
   * `background`: asks a background holder's object (see `heldByLostRun`).
   */
  static async begin(
    db: Db,
    tenantId: string,
    conversationId: string,
    responseId: string,
    background?: BackgroundSnapshot,
  ): Promise<ConversationTurn> {
    let outcome = await claimConversation(db, tenantId, conversationId, responseId, leaseUntil());
    // Held by a stream of this isolate whose client may have left unnoticed (a model thinking
    // silently): asked, a run whose client is gone yields, and the claim is tried once more.
    if (outcome === "busy" && (await claimHolders.check(tenantId, conversationId, responseId)))
      outcome = await claimConversation(db, tenantId, conversationId, responseId, leaseUntil());
    if (
      outcome === "busy" &&
      background !== undefined &&
      (await heldByLostRun(db, tenantId, conversationId, background))
    )
      outcome = await claimConversation(db, tenantId, conversationId, responseId, leaseUntil());
    if (outcome === "missing") throw conversationNotFound(conversationId.slice(0, 128), "conversation");
    if (outcome === "busy")
      throw new ApiError(400, CONVERSATION_LOCKED_MESSAGE, { param: "conversation", code: "conversation_locked" });
    // A turn of this isolate that yielded the claim (its client left) stops now.
    yieldedClaims.stop(tenantId, conversationId, responseId);
    return new ConversationTurn(db, tenantId, conversationId, responseId);
  }

  #renewal: ReturnType<typeof setInterval> | undefined;

  /** Renews the claim on a timer until the turn ends (a run without a heartbeat of its own). */
  keepAlive(): void {
    this.#renewal ??= setInterval(() => {
      runBatch(this.db, [
        renewClaimStatement(this.db, this.tenantId, this.conversationId, this.responseId, leaseUntil()),
      ]).catch((error: unknown) => logD1Problem(this.#ids, "the conversation's lease renewal failed", error));
    }, RENEW_EVERY_MS);
  }

  /** The turn ends elsewhere (the terminal write appends and releases): nothing more to do here. */
  settle(): void {
    this.#settled = true;
    this.#stopRenewal();
  }

  #stopRenewal(): void {
    if (this.#renewal !== undefined) clearInterval(this.#renewal);
    this.#renewal = undefined;
  }

  /** Releases the conversation without appending (the run never started). Never throws. */
  async abandon(): Promise<void> {
    if (this.#settled) return;
    await this.release();
  }

  /**
   * Releases the conversation without appending, even once the run started (`settle`): for a run
   * whose row D1 refused, which keeps nothing, so no end of it will. Never throws.
   */
  async release(): Promise<void> {
    this.#settled = true;
    this.#stopRenewal();
    await this.#releaseAlone();
  }

  /** Releases the claim in a batch of its own. Never throws. */
  async #releaseAlone(): Promise<void> {
    try {
      await runBatch(this.db, [this.#release()]);
    } catch (error) {
      // The claim lapses on its own at its deadline.
      logD1Problem(this.#ids, "the conversation could not be released", error, { attempt: 1, of: 1 });
    }
  }

  /**
   * Ends a store:false turn: if the model finished it, the request's input and the response's
   * output join the conversation, in order, in the batch that releases it. Never throws; resolves to
   * what D1 refused the append with past its attempts (the turn is then not in the conversation, and
   * its client must be told), else null (appended, or nothing to append).
   */
  async end(input: InputItem[], snapshot: ResponseObject): Promise<AppendRefused | null> {
    if (this.#settled) return null;
    this.#settled = true;
    this.#stopRenewal();
    const statements: Statement[] = [];
    if (APPENDED_STATUSES.has(snapshot.status)) {
      const items = [
        ...storedItems(input),
        ...snapshot.output.map((item) => ({
          itemId: typeof item.id === "string" ? item.id : newId("item"),
          data: JSON.stringify(item),
        })),
      ];
      statements.push(...appendItemsStatements(this.db, this.tenantId, this.conversationId, items));
    }
    statements.push(this.#release());
    try {
      await retryWrite(() => runBatch(this.db, statements), {
        attempts: APPEND_ATTEMPTS,
        maxPauseMs: MAX_APPEND_PAUSE_MS,
        onRefused: (error, attempt) =>
          logD1Problem(this.#ids, "the turn's items could not be appended", error, attempt),
      });
      return null;
    } catch (error) {
      if (statements.length === 1) return null;
      // Not appended: its claim, which rode the refused batch, goes alone, so the client's retry
      // (it is told) is not refused conversation_locked until the lease lapses.
      await this.#releaseAlone();
      return { cause: error };
    }
  }

  /** The ids this turn's lines carry. */
  get #ids() {
    return { response_id: this.responseId, tenant: this.tenantId, conversation_id: this.conversationId };
  }

  #release(): Statement {
    return releaseConversationStatement(this.db, this.tenantId, this.conversationId, this.responseId);
  }
}

/**
 * Whether the conversation's claim was held by a background run its object had lost (a deploy or
 * crash, even while it was queued), which asking the object (as any read of the run does) has just
 * ended `failed`, freeing the conversation: without it the claim would hold until its lease lapses.
 * False for a live holder, a foreground one (its Worker's death shows only once its heartbeat is
 * silent, as long as the lease), or when D1 or the object cannot say (the create is refused as before).
 */
async function heldByLostRun(
  db: Db,
  tenantId: string,
  conversationId: string,
  background: BackgroundSnapshot,
): Promise<boolean> {
  try {
    const holder = (await findConversation(db, tenantId, conversationId))?.activeResponseId;
    if (holder === null || holder === undefined) return false;
    const row = await findResponse(db, tenantId, holder);
    if (row === undefined || !row.background || TERMINAL_STATUSES.has(row.status)) return false;
    const snapshot = await background(holder);
    return snapshot !== null && TERMINAL_STATUSES.has(snapshot.status);
  } catch (error) {
    logFailure("the conversation's holder could not be asked", error, {
      tenant: tenantId,
      conversation_id: conversationId,
    });
    return false;
  }
}

/**
 * What a store:false turn's client is told when D1 refused its append (instead of its terminal
 * event, or its JSON answer): a retryable 503 naming the response and the conversation, which
 * holds nothing of the turn, so a retry runs it again. A missing migration is said as such.
 */
export const appendRefused = (turn: ConversationTurn, refused: AppendRefused, streamed: boolean): ApiError =>
  storageRefused(
    `The gateway could not add response '${turn.responseId}' to conversation '${turn.conversationId}' because its storage is unavailable; the conversation does not have this turn${streamed ? ", though its output was streamed" : ""}. Try again to run the turn again.`,
    refused.cause,
  );
