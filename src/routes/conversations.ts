// POST /v1/conversations, and GET, POST (metadata) and DELETE /v1/conversations/{id}: conversations
// as OpenAI serves them, stored in D1 by tenant. Another tenant's conversation answers exactly like
// an unknown one (404).

import type { Db } from "../db/client";
import { tenantDb, tenantStore } from "../db/shards";
import {
  deleteConversation as deleteConversationRows,
  findConversation,
  insertConversation,
  updateConversationMetadata,
  type ConversationRow,
} from "../db/conversations";
import { conversationNotFound, invalidRequest } from "../errors";
import { authenticate, type Caller } from "../http/auth";
import { readJsonObject } from "../http/json-body";
import { requireAcceptedKey } from "../http/key-acceptance";
import { validateInputItem, validateMetadata } from "../responses/create-request";
import { checkDuplicateIds } from "../responses/duplicate-items";
import { isWellFormedId, newId } from "../responses/ids";
import { storedItems } from "../responses/items";
import { resolveItemReferences } from "../run/item-references";
import type { InputItem, JsonObject } from "../responses/types";
import { checkMaxLength, invalidType, missing } from "../responses/validation";
import { itemSupport } from "../upstream/chat-completions/support";
import { checkGatewaySeals } from "./conversation-seals";
import { json, pathParam, type RouteContext } from "./context";

/** Items one request may add to a conversation (OpenAI: "up to 20 items at a time"). */
export const CONVERSATION_ITEMS_PER_REQUEST = 20;

export const conversationObject = (row: ConversationRow): JsonObject => ({
  id: row.id,
  object: "conversation",
  created_at: row.createdAt,
  metadata: JSON.parse(row.metadata) as unknown,
});

/**
 * The `items` of a create body: each a valid input item of a type the Responses API defines, at most
 * 20. A create lets unknown types through for its upstream to judge; a conversation stores them
 * first, and an item no upstream takes would fail every later turn of the conversation.
 */
export function validateItems(value: unknown): InputItem[] {
  if (!Array.isArray(value)) throw invalidType("items", "an array", value);
  checkMaxLength("items", value, CONVERSATION_ITEMS_PER_REQUEST);
  return value.map((item, index) => {
    const valid = validateInputItem(item, `items[${index}]`);
    // A message may leave its type out (`{ role, content }`).
    const type = typeof valid.type === "string" ? valid.type : "message";
    if (itemSupport(type) === undefined)
      throw invalidRequest(
        `Invalid value for 'items[${index}].type': '${type.slice(0, 64)}' is not an input item type of the Responses API.`,
        `items[${index}].type`,
        "invalid_value",
      );
    return valid;
  });
}

export interface FoundConversation {
  caller: Caller;
  db: Db;
  row: ConversationRow;
}

/** The caller's conversation named by the path; unknown, malformed and foreign ids are one 404. */
export async function findOwnConversation(route: RouteContext): Promise<FoundConversation> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const id = pathParam(route.request.params.id);
  if (!isWellFormedId(id, "conv")) throw conversationNotFound(id.slice(0, 128));
  const db = (await tenantStore(route.env, caller.tenantId)).reads();
  const row = await findConversation(db, caller.tenantId, id);
  if (row === undefined) throw conversationNotFound(id);
  return { caller, db, row };
}

export async function createConversation(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const body = await readJsonObject(route.request, route.config.maxBodyBytes);
  const items = body.items === undefined || body.items === null ? [] : validateItems(body.items);
  const metadata = validateMetadata(body.metadata);
  await checkGatewaySeals(items, caller.tenantId, route.config.compactionSecret);
  const db = await tenantDb(route.env, caller.tenantId);
  const resolved = await resolveItemReferences(db, caller.tenantId, items, "items");
  // Ids stay unique within a conversation: its item list pages by them.
  checkDuplicateIds(resolved, 0, "items");
  await requireAcceptedKey(caller, route.config);
  const row = await insertConversation(
    db,
    { id: newId("conv"), tenantId: caller.tenantId, createdAt: Math.floor(Date.now() / 1000), metadata },
    storedItems(resolved),
  );
  return json(conversationObject(row));
}

export async function retrieveConversation(route: RouteContext): Promise<Response> {
  return json(conversationObject((await findOwnConversation(route)).row));
}

export async function updateConversation(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnConversation(route);
  const body = await readJsonObject(route.request, route.config.maxBodyBytes);
  if (body.metadata === undefined) throw missing("metadata");
  const metadata = validateMetadata(body.metadata);
  await requireAcceptedKey(caller, route.config);
  const updated = await updateConversationMetadata(db, caller.tenantId, row.id, metadata);
  if (updated === undefined) throw conversationNotFound(row.id);
  return json(conversationObject(updated));
}

export async function deleteConversation(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnConversation(route);
  await requireAcceptedKey(caller, route.config);
  if (!(await deleteConversationRows(db, caller.tenantId, row.id))) throw conversationNotFound(row.id);
  return json({ id: row.id, object: "conversation.deleted", deleted: true });
}
