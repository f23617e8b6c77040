// The history console in a real browser (Debian's chromium), against the real Worker on loopback:
// signing in, filtering, a response with tool calls, following a live one, a webhook resend, the
// tenant wall and the operator's view; the page's weight and its CSP. Screenshots go to docs/console/.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import type { Page, Response as PageResponse } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startStage, until, type Stage } from "./harness.ts";

const SHOTS = join(import.meta.dirname, "..", "..", "docs", "console");
/** The issue's budget for the first view (the sign-in page and everything it loads). */
const FIRST_VIEW_BUDGET_BYTES = 100 * 1024;

let stage: Stage;
let page: Page;
/** Everything the page printed to its console: a CSP violation would show here. */
const pageErrors: string[] = [];

interface Tenant {
  id: string;
  key: string;
  openai: OpenAI;
}

async function adminCall<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${stage.origin}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

async function newTenant(name: string): Promise<Tenant> {
  const tenant = await adminCall<{ id: string }>("POST", "/tenants", { name });
  const key = await adminCall<{ key: string }>("POST", `/tenants/${tenant.id}/keys`, { name: `${name} key` });
  return {
    id: tenant.id,
    key: key.key,
    openai: new OpenAI({ apiKey: key.key, baseURL: `${stage.origin}/v1`, maxRetries: 0 }),
  };
}

const tag = () => crypto.randomUUID().slice(0, 8);

async function signIn(mode: "tenant" | "admin", token: string) {
  await page.goto(`${stage.origin}/console/`);
  const signOut = page.getByRole("button", { name: "Sign out" });
  if (await signOut.isVisible()) await signOut.click();
  await page.getByLabel(mode === "admin" ? "the admin token" : "an API key", { exact: false }).check();
  await page.locator('input[name="token"]').fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

let alice: Tenant;
let bob: Tenant;
const ids: Record<string, string> = {};

beforeAll(async () => {
  stage = await startStage();
  page = await stage.browser.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  mkdirSync(SHOTS, { recursive: true });
  alice = await newTenant("alice");
  bob = await newTenant("bob");
  const m = tag();
  ids.first = (
    await alice.openai.responses.create({ model: `text:4#${m}`, input: "Say four words", metadata: { team: "red" } })
  ).id;
  ids.second = (
    await alice.openai.responses.create({ model: `text:2#${m}`, input: "Two more", metadata: { team: "blue" } })
  ).id;
  // A stream cut after its start: stored as failed with its partial output.
  const cut = await alice.openai.responses.create({
    model: `cut-after:5#${m}`,
    input: "This one breaks",
    stream: true,
  });
  try {
    for await (const event of cut) if (event.type === "response.created") ids.failed = event.response.id;
  } catch {
    // The SDK throws at the stream's `error` event; the response is stored as failed.
  }
  ids.bob = (await bob.openai.responses.create({ model: `text:1#${m}`, input: "Bob's secret" })).id;
});

afterAll(async () => {
  await stage?.stop();
});

describe("the history console", () => {
  it("keeps the first view under 100 KB, from this origin only, with no CSP violation", async () => {
    const loaded: { url: string; bytes: number }[] = [];
    const listener = (response: PageResponse) =>
      void response.body().then(
        (body) => loaded.push({ url: response.url(), bytes: body.length }),
        () => undefined,
      );
    page.on("response", listener);
    await page.goto(`${stage.origin}/console/`, { waitUntil: "networkidle" });
    page.off("response", listener);
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    const total = loaded.reduce((sum, entry) => sum + entry.bytes, 0);
    console.log(
      `first view: ${loaded.map((entry) => `${new URL(entry.url).pathname} ${entry.bytes} B`).join(", ")}; ${total} B`,
    );
    expect(total).toBeLessThan(FIRST_VIEW_BUDGET_BYTES);
    expect(loaded.every((entry) => entry.url.startsWith(stage.origin))).toBe(true);
    await page.screenshot({ path: join(SHOTS, "sign-in.png") });
    expect(pageErrors).toEqual([]);
  });

  it("refuses a wrong key on the sign-in page with the gateway's message, and keeps nothing", async () => {
    await page.goto(`${stage.origin}/console/`);
    await page.locator('input[name="token"]').fill("sk-gw-not-a-real-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("Incorrect API key provided");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("signs in with a key (kept in sessionStorage only) and lists that tenant's responses", async () => {
    await signIn("tenant", alice.key);
    await page.locator("table.responses tbody tr").first().waitFor();
    const shown = await page
      .locator("table.responses tbody tr")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-id")));
    expect(shown).toEqual([ids.failed, ids.second, ids.first]);
    expect(await page.evaluate(() => [localStorage.length, document.cookie])).toEqual([0, ""]);
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(["responses-gateway.console.session"]);
    await page.screenshot({ path: join(SHOTS, "responses.png") });
  });

  it("moves focus to the list's first control after a keyboard sign-in, not back to the page's body", async () => {
    await page.goto(`${stage.origin}/console/`);
    const signOut = page.getByRole("button", { name: "Sign out" });
    if (await signOut.isVisible()) await signOut.click();
    await page.locator('input[name="token"]').focus();
    await page.keyboard.type(alice.key);
    await page.keyboard.press("Enter");
    await signOut.waitFor();
    await until(
      () => page.evaluate(() => document.activeElement?.getAttribute("name") ?? document.activeElement?.tagName),
      (focused) => focused === "model",
      "focus on the first filter",
    );
    // Signing out leads to the sign-in page's first control the same way.
    await signOut.press("Enter");
    await until(
      () => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name),
      (focused) => focused === "mode",
      "focus on the sign-in's first choice",
    );
    await signIn("tenant", alice.key);
    await page.locator("table.responses tbody tr").first().waitFor();
  });

  it("filters by status, model and metadata, and shows a bad filter's error as the gateway words it", async () => {
    // A search of the page is of that page: the filtered page starts without it.
    await page.locator('input[name="search"]').fill("not on any page");
    expect(await page.locator(".list-tools .muted").textContent()).toBe("0 of 3 shown");
    await page.locator('select[name="status"]').selectOption("failed");
    await page.getByRole("button", { name: "Filter" }).click();
    await until(
      () =>
        page.locator("table.responses tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-id"))),
      (rows) => rows.length === 1 && rows[0] === ids.failed,
      "the failed response alone",
    );
    expect(await page.locator('input[name="search"]').inputValue()).toBe("");
    expect(await page.locator(".list-tools .muted").textContent()).toBe("1 of 1 shown");
    // A failed row says why, by its error's code (its message on hover).
    const { error } = await alice.openai.responses.retrieve(ids.failed!);
    const code = page.locator(`tr[data-id="${ids.failed}"] .error-code`);
    expect(await code.textContent()).toBe(` ${error?.code}`);
    expect(await code.getAttribute("title")).toBe(error?.message);
    await page.goto(`${stage.origin}/console/#/?metadata=team%3Dblue`);
    await until(
      () =>
        page.locator("table.responses tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-id"))),
      (rows) => rows.length === 1 && rows[0] === ids.second,
      "the blue response alone",
    );
    // Not a key=value pair: said so, not dropped (which listed every response under the filter).
    await page.goto(`${stage.origin}/console/#/?metadata=team`);
    await expect(page.getByRole("alert").textContent()).resolves.toBe(
      "Metadata filters are key=value pairs, separated by commas: 'team' is not one.",
    );
    expect(await page.locator("table.responses").count()).toBe(0);
    await page.goto(`${stage.origin}/console/#/`);
    await page.locator("table.responses tbody tr").first().waitFor();
    await page.locator('input[name="model"]').fill("x".repeat(300));
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("Invalid 'model': string too long");
  });

  it("opens a response with a tool call, and the next turn with its output, chained", async () => {
    const m = tag();
    const call = await alice.openai.responses.create({
      model: `function:get_weather#${m}`,
      input: "Weather in Paris?",
    });
    const callItem = call.output[0] as { call_id: string };
    const answer = await alice.openai.responses.create({
      model: `text:3#${m}`,
      previous_response_id: call.id,
      input: [{ type: "function_call_output", call_id: callItem.call_id, output: '{"temperature_c":21}' }],
    });
    await page.goto(`${stage.origin}/console/#/responses/${call.id}`);
    const toolCall = page.locator(".item.tool-call");
    await toolCall.waitFor();
    expect(await toolCall.textContent()).toContain("get_weather");
    expect(await toolCall.locator("pre").textContent()).toBe('{\n  "city": "Paris"\n}');
    await page.locator(".chain ul li").first().waitFor();
    expect(await page.locator(".chain ul").textContent()).toContain(answer.id);
    await page.locator(".timeline").waitFor();
    await page.screenshot({ path: join(SHOTS, "response-tool-call.png"), fullPage: true });
    await page.locator(".chain a", { hasText: answer.id }).click();
    const output = page.locator(".item.tool-output");
    await output.waitFor();
    expect(await output.textContent()).toContain(callItem.call_id);
    // The call is the previous response's: the output names it.
    expect(await output.locator(".item-head code").textContent()).toBe("get_weather");
    expect(await output.locator("pre").textContent()).toBe('{\n  "temperature_c": 21\n}');
    expect(await page.locator(".chain ol").textContent()).toContain(call.id);
    expect(await page.locator(".timeline").textContent()).toContain("response.completed");
  });

  it("shows a tool output of content parts as a message's: its text, and an image as [image], not its data URL", async () => {
    const m = tag();
    const call = await alice.openai.responses.create({ model: `function:get_weather#${m}`, input: "Look at Paris" });
    const callItem = call.output[0] as { call_id: string };
    const image = `data:image/png;base64,${"iVBORw0KGgo".repeat(2000)}`;
    const answer = await alice.openai.responses.create({
      model: `text:1#${m}`,
      previous_response_id: call.id,
      input: [
        {
          type: "function_call_output",
          call_id: callItem.call_id,
          output: [
            { type: "input_text", text: "A photo of Paris" },
            { type: "input_image", image_url: image },
          ],
        },
      ],
    });
    await page.goto(`${stage.origin}/console/#/responses/${answer.id}`);
    const output = page.locator(".item.tool-output");
    await output.waitFor();
    expect(await output.locator(".text").textContent()).toBe("A photo of Paris");
    expect(await output.locator(".muted", { hasText: "[image]" }).count()).toBe(1);
    expect(await output.textContent()).not.toContain("base64");
  });

  it("shows a reasoning item's own text (reasoning_text), not only a summary", async () => {
    const response = await alice.openai.responses.create({ model: `text:2#${tag()}`, input: "Think first" });
    // As a chat server's (or an open-weight model's) reasoning is stored: no summary, the text itself.
    const reasoning = {
      id: "rs_browser",
      type: "reasoning",
      summary: [],
      content: [{ type: "reasoning_text", text: "Count the letters: three r's." }],
    };
    await page.route(`**/v1/responses/${response.id}`, async (route) => {
      const stored = await route.fetch();
      const body = (await stored.json()) as { output: unknown[] };
      await route.fulfill({ response: stored, json: { ...body, output: [reasoning, ...body.output] } });
    });
    try {
      await signIn("tenant", alice.key);
      await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
      const item = page.locator(".item.reasoning");
      await item.waitFor();
      expect(await item.textContent()).toContain("Count the letters: three r's.");
      expect(await item.textContent()).not.toContain("No summary");
    } finally {
      await page.unroute(`**/v1/responses/${response.id}`);
    }
  });

  it("marks an output item cut short as incomplete, and a finished one not at all", async () => {
    await signIn("tenant", alice.key);
    // The stream broke inside its message: the stored item is `incomplete`, its text partial.
    await page.goto(`${stage.origin}/console/#/responses/${ids.failed}`);
    const cut = page.locator(".item.message.role-assistant");
    await cut.waitFor();
    expect(await cut.locator(".item-head .status").textContent()).toBe("incomplete");
    await page.goto(`${stage.origin}/console/#/responses/${ids.first}`);
    const done = page.locator(".item.message.role-assistant");
    await done.waitFor();
    expect(await done.locator(".item-head .status").count()).toBe(0);
  });

  it("leads from a response back to the list as it was left, filters and all", async () => {
    await signIn("tenant", alice.key);
    await page.goto(`${stage.origin}/console/#/?status=failed`);
    await page.locator(`tr[data-id="${ids.failed}"] a`).click();
    await page.locator("header.summary").waitFor();
    await page.getByRole("link", { name: "« Responses" }).click();
    expect(new URL(page.url()).hash).toBe("#/?status=failed");
    await until(
      () =>
        page.locator("table.responses tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-id"))),
      (rows) => rows.length === 1 && rows[0] === ids.failed,
      "the failed response alone",
    );
  });

  it("says so when a conversation has more items than the 100 it shows", async () => {
    await signIn("tenant", alice.key);
    const conversation = await alice.openai.conversations.create({ items: [{ role: "user", content: "Earlier" }] });
    const response = await alice.openai.responses.create({
      model: `text:2#${tag()}`,
      input: "One more",
      conversation: conversation.id,
    });
    // The first page of a longer conversation: its items, and `has_more`.
    const items = `**/v1/conversations/${conversation.id}/items?*`;
    await page.route(items, async (route) => {
      const stored = await route.fetch();
      const list = (await stored.json()) as Record<string, unknown>;
      await route.fulfill({ response: stored, json: { ...list, has_more: true } });
    });
    try {
      await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
      const view = page.locator(".conversation");
      await view.locator(".item").first().waitFor();
      expect(await view.textContent()).toContain("The first 100 items of the conversation are shown;");
    } finally {
      await page.unroute(items);
    }
    // Every turn is a response listed by its conversation: the list filters by it, as bookmarkable.
    const outside = await alice.openai.responses.create({ model: `text:2#${tag()}`, input: "Not in it" });
    await page.locator(".conversation").getByRole("link", { name: "Its responses »" }).click();
    await page.waitForFunction(
      (id) => document.querySelector("table.responses")?.textContent?.includes(id),
      response.id.slice(0, 18),
    );
    expect(new URLSearchParams(page.url().split("?")[1]).get("conversation")).toBe(conversation.id);
    expect(await page.locator("input[name=conversation]").inputValue()).toBe(conversation.id);
    const listed = await page.locator("table.responses tbody tr").allTextContents();
    expect(listed).toHaveLength(1);
    expect(listed.join()).not.toContain(outside.id.slice(0, 18));
  });

  it("shows the chain of a response whose conversation was deleted, and says it was", async () => {
    await signIn("tenant", alice.key);
    const conversation = await alice.openai.conversations.create({ items: [{ role: "user", content: "Soon gone" }] });
    const response = await alice.openai.responses.create({
      model: `text:2#${tag()}`,
      input: "In it",
      conversation: conversation.id,
    });
    await alice.openai.conversations.delete(conversation.id);
    await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
    const view = page.locator(".conversation");
    await view.waitFor();
    expect(await view.textContent()).toContain("Deleted: its items are gone.");
    expect(await page.locator(".chain ol").textContent()).toContain(response.id);
  });

  it("wraps a long unbroken text inside its item instead of widening the page", async () => {
    const response = await alice.openai.responses.create({ model: `echo#${tag()}`, input: "a".repeat(3000) });
    await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
    await page.locator(".item.message").first().waitFor();
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(widths[0]).toBeLessThanOrEqual(widths[1] as number);
    // A phone's width: the list and the detail page scroll their tables, not the page.
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      for (const path of ["/", `/responses/${response.id}`]) {
        await page.goto(`${stage.origin}/console/#${path}`);
        await page.locator(path === "/" ? "table.responses" : ".timeline table").waitFor();
        const narrow = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        expect(narrow[0], path).toBeLessThanOrEqual(narrow[1] as number);
        // ... rather than squeeze a column to a letter a line: each one-word header keeps one line.
        const broken = await page.evaluate(() =>
          [...document.querySelectorAll(".scroll-x th")]
            .filter((th) => /^\S{2,}$/.test(th.textContent ?? ""))
            .filter((th) => {
              const range = document.createRange();
              range.selectNodeContents(th);
              return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size > 1;
            })
            .map((th) => th.textContent),
        );
        expect(broken, path).toEqual([]);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it("folds a long answer behind Show all, so what follows it is within reach, and shows it whole when asked", async () => {
    const input = Array.from({ length: 4_000 }, (_, line) => `line ${line}`).join("\n");
    // The mock's echo answers `echo(1): ` and the input.
    const output = `echo(1): ${input}`;
    const response = await alice.openai.responses.create({ model: `echo#${tag()}`, input });
    await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
    const answer = page.locator(".item.message.role-assistant .text");
    await answer.waitFor();
    // Its first 200 lines, a line a row here.
    expect(await answer.textContent()).toContain(
      `The first 200 lines of 4,000 (${output.length.toLocaleString("en-US")} characters).`,
    );
    expect(await answer.textContent()).not.toContain("line 3999");
    // The page holds a few screens of it, not the whole text's height (100,000 px for 1 MB).
    const folded = await page.evaluate(() => document.documentElement.scrollHeight);
    await answer.getByRole("button", { name: "Show all" }).click();
    expect(await answer.textContent()).toBe(output);
    expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeGreaterThan(folded * 1.5);
    // Shown whole, the browser's search in the page finds its end.
    expect(await page.evaluate(() => (window as unknown as { find(text: string): boolean }).find("line 3999"))).toBe(
      true,
    );
    // The operator's first page of every tenant's responses is pinned further on: this one is not kept.
    await alice.openai.responses.delete(response.id);
  });

  it("shows the timed event log where the gateway serves GET .../events, and an unrecorded time as —", async () => {
    const response = await alice.openai.responses.create({ model: `text:2#${tag()}`, input: "Time me" });
    const events = [
      { sequence_number: 0, type: "response.created", t_ms: 3, event: { type: "response.created" } },
      { sequence_number: 1, type: "response.in_progress", t_ms: null, event: { type: "response.in_progress" } },
      {
        sequence_number: 2,
        type: "response.output_text.delta",
        t_ms: 41,
        event: { type: "response.output_text.delta" },
      },
      { sequence_number: 3, type: "response.completed", t_ms: 57, event: { type: "response.completed" } },
    ];
    // The events route's contract (`{object, data: [{sequence_number, type, t_ms, event}], has_more}`),
    // answered here until the gateway serves it; the page must use it instead of the replay.
    await page.route(`**/v1/responses/${response.id}/events?*`, (route) =>
      route.fulfill({ json: { object: "list", data: events, has_more: false } }),
    );
    await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
    const rows = page.locator(".timeline tbody tr");
    await rows.nth(3).waitFor();
    const cells = await rows.evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 4).map((td) => td.textContent)),
    );
    expect(cells).toEqual([
      ["0", "response.created", "3 ms", ""],
      ["1", "response.in_progress", "—", ""],
      ["2", "response.output_text.delta", "41 ms", ""],
      ["3", "response.completed", "57 ms", "+16"],
    ]);
    expect(await page.locator(".timeline p").textContent()).toContain("first delta 41 ms");
    // The table is one Tab stop (a log has hundreds of rows): the arrow keys move between its JSON toggles.
    const toggles = page.locator(".timeline table summary");
    expect(await toggles.evaluateAll((all) => all.map((summary) => (summary as HTMLElement).tabIndex))).toEqual([
      0, -1, -1, -1,
    ]);
    const focusedRow = () =>
      page.evaluate(() => document.activeElement?.closest("tr")?.querySelector("td")?.textContent);
    await toggles.first().focus();
    await page.keyboard.press("ArrowDown");
    expect(await focusedRow()).toBe("1");
    await page.keyboard.press("End");
    expect(await focusedRow()).toBe("3");
    await page.keyboard.press("ArrowUp");
    expect(await focusedRow()).toBe("2");
    // One Tab leaves the table; Shift+Tab comes back to the row left, and Enter opens it.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.closest(".timeline table") ?? null)).toBe(null);
    await page.keyboard.press("Shift+Tab");
    expect(await focusedRow()).toBe("2");
    await page.keyboard.press("Enter");
    expect(await rows.nth(2).locator("pre").textContent()).toBe('{\n  "type": "response.output_text.delta"\n}');
    await page.unroute(`**/v1/responses/${response.id}/events?*`);
  });

  it("shows the first page of a long event log at once, its count and its end, and reads the ones between as asked or scrolled to", async () => {
    await signIn("tenant", alice.key);
    const response = await alice.openai.responses.create({ model: `text:2#${tag()}`, input: "A long log" });
    // A log of 20,100 events (a long answer's deltas): the page must not read them all before showing any,
    // nor to show how many there are and how the log ends.
    const total = 20_100;
    const asked: string[] = [];
    const event = (seq: number) => ({
      sequence_number: seq,
      type: seq === total - 1 ? "response.completed" : "response.output_text.delta",
      t_ms: seq,
      event: { type: "x" },
    });
    await page.route(`**/v1/responses/${response.id}/events?*`, (route) => {
      const url = new URL(route.request().url());
      const limit = Number(url.searchParams.get("limit"));
      const data = [];
      if (url.searchParams.get("order") === "desc") {
        const before = Number(url.searchParams.get("after") ?? total);
        asked.push(`desc ${before}`);
        for (let seq = before - 1; seq >= Math.max(0, before - limit); seq--) data.push(event(seq));
        return route.fulfill({ json: { object: "list", data, has_more: before - limit > 0 } });
      }
      const after = Number(url.searchParams.get("after"));
      asked.push(`${after}`);
      const end = Math.min(total, after + 1 + limit);
      for (let seq = after + 1; seq < end; seq++) data.push(event(seq));
      return route.fulfill({ json: { object: "list", data, has_more: end < total } });
    });
    try {
      await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
      const rows = page.locator(".timeline tbody:first-of-type tr");
      const last = page.locator(".timeline tbody:last-of-type tr:last-child");
      await last.waitFor();
      expect(asked).toEqual(["-1", `desc ${total}`]);
      expect(await rows.count()).toBe(100);
      const summary = await page.locator(".timeline p").textContent();
      expect(summary).toContain("20,100 events: the first 100 and the last 100 are shown");
      expect(summary).toContain(", end 20,099 ms after creation");
      expect(await page.locator(".timeline tr.gap").textContent()).toContain("19,900 events not read yet");
      // A row's JSON is built when it is opened: a 1 MB answer's last events would hold megabytes of it.
      expect(await page.locator(".timeline pre").count()).toBe(0);
      await last.locator("summary").click();
      expect(await last.locator("pre").textContent()).toBe('{\n  "type": "x"\n}');
      expect(await page.locator(".timeline pre").count()).toBe(1);
      // The end is one click away, and reaching it reads nothing more.
      await page.getByRole("button", { name: "Jump to the end »" }).click();
      expect(await last.locator("td").nth(1).textContent()).toBe("response.completed");
      const inView = () =>
        last.evaluate((row) => {
          const box = row.getBoundingClientRect();
          return box.top >= 0 && box.bottom <= window.innerHeight;
        });
      await until(inView, (shown) => shown, "the log's last event in view");
      expect(asked).toHaveLength(2);
      // On a phone the table scrolls sideways: the jump shows the row from its start (its #), not its JSON.
      await page.setViewportSize({ width: 375, height: 800 });
      try {
        await page.getByRole("button", { name: "Jump to the end »" }).click();
        const table = page.locator(".timeline .scroll-x");
        expect(await table.evaluate((scroll) => scroll.scrollWidth > scroll.clientWidth)).toBe(true);
        expect(await table.evaluate((scroll) => scroll.scrollLeft)).toBe(0);
      } finally {
        await page.setViewportSize({ width: 1280, height: 860 });
      }
      await page.getByRole("button", { name: "Show 100 more events" }).click();
      await rows.nth(199).waitFor();
      expect(asked.slice(0, 3)).toEqual(["-1", `desc ${total}`, "99"]);
      // Scrolling to where the reading stopped reads on; each page once, in order.
      await page.locator(".timeline tr.gap button").scrollIntoViewIfNeeded();
      await rows.nth(299).waitFor();
      const numbers = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.querySelector("td")?.textContent)));
      expect(numbers).toEqual(numbers.map((_, index) => index));
      expect(new Set(asked).size).toBe(asked.length);
    } finally {
      await page.unroute(`**/v1/responses/${response.id}/events?*`);
    }
  });

  it("follows a running background response live to its end", async () => {
    const model = `gate:6:10#${tag()}`;
    const running = await alice.openai.responses.create({ model, input: "Count slowly", background: true });
    await until(
      () => alice.openai.responses.retrieve(running.id),
      (response) => response.output_text === "w0 w1 ",
      "the run to reach its gate",
    );
    await page.goto(`${stage.origin}/console/#/responses/${running.id}`);
    await page.getByText("following live").waitFor();
    await page.locator(".item.message", { hasText: "w0 w1" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "response-live.png") });
    await fetch(`${stage.mock}/__mock/release?model=${encodeURIComponent(model)}`, { method: "POST" });
    await page.getByText("followed to its end").waitFor();
    expect(await page.locator(".summary .status").first().textContent()).toBe("completed");
    expect(await page.locator(".item.message").last().textContent()).toContain("w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
    // Once it has ended, the timeline shows the recorded events with their times.
    await page.locator(".timeline p", { hasText: "after creation" }).waitFor();
  });

  it("shows a long running response's latest events, jumps to them and keeps them in view as they come", async () => {
    await signIn("tenant", alice.key);
    const model = `gate:250:400#${tag()}`;
    const running = await alice.openai.responses.create({ model, input: "A long run", background: true });
    await until(
      () => alice.openai.responses.retrieve(running.id),
      (response) => response.output_text.includes("w240 "),
      "the run to reach its gate",
    );
    await page.goto(`${stage.origin}/console/#/responses/${running.id}`);
    await page.getByText("following live").waitFor();
    // Its first 200 events, then its latest (up to 100 of them), not the first 200 alone.
    const latest = page.locator(".timeline tbody:last-of-type tr:last-child td:first-child");
    // The mock holds the stream after its event 250.
    await until(
      () => latest.textContent(),
      (seq) => seq === "250",
      "the event before the gate",
    );
    expect(await page.locator(".timeline tbody:first-of-type tr").count()).toBe(200);
    expect(await page.locator(".timeline tbody:last-of-type tr").count()).toBe(51);
    await page.getByRole("button", { name: "Jump to the latest »" }).click();
    const inView = () =>
      latest.evaluate((cell) => {
        const box = cell.getBoundingClientRect();
        return box.top >= 0 && box.bottom <= window.innerHeight;
      });
    await until(inView, (shown) => shown, "the latest event in view");
    // Each time the page changes while it follows, where its newest row is: still in view as it goes on.
    await page.evaluate(() => {
      const seen: [number, boolean][] = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver(() => {
        if (!document.querySelector(".timeline p")?.textContent?.includes("Followed live")) return;
        const cell = document.querySelector(".timeline tbody:last-of-type tr:last-child td");
        const box = cell?.getBoundingClientRect();
        if (box) seen.push([Number(cell?.textContent), box.top >= 0 && box.bottom <= window.innerHeight]);
      }).observe(document.querySelector("main") as Node, { childList: true, subtree: true, characterData: true });
    });
    await fetch(`${stage.mock}/__mock/release?model=${encodeURIComponent(model)}`, { method: "POST" });
    await page.getByText("followed to its end").waitFor();
    const seen = await page.evaluate(() => (window as unknown as { seen: [number, boolean][] }).seen);
    expect(Math.max(...seen.map(([seq]) => seq))).toBeGreaterThan(390);
    expect(seen.filter(([, shown]) => !shown)).toEqual([]);
    // The operator's first page of every tenant's responses is pinned further on: this one is not kept.
    await alice.openai.responses.delete(running.id);
  });

  it("does not say a follow whose stream closed before the response ended followed it to its end", async () => {
    await signIn("tenant", alice.key);
    const model = `gate:3:10#${tag()}`;
    const running = await alice.openai.responses.create({ model, input: "Hold on", background: true });
    // A stream that closes while the response still runs (a proxy's idle cut, the gateway done waiting).
    const stream = (url: URL) => url.pathname.endsWith(`/${running.id}`) && url.searchParams.get("stream") === "true";
    await page.route(stream, (route) =>
      route.fulfill({
        contentType: "text/event-stream",
        body: 'event: response.queued\ndata: {"type":"response.queued","sequence_number":0}\n\n',
      }),
    );
    try {
      await page.goto(`${stage.origin}/console/#/responses/${running.id}`);
      await page.getByText("the live stream was lost").waitFor();
      expect(await page.getByText("followed to its end").count()).toBe(0);
    } finally {
      await page.unroute(stream);
      await fetch(`${stage.mock}/__mock/release?model=${encodeURIComponent(model)}`, { method: "POST" });
    }
  });

  it("shows a webhook delivery with its attempts and resends it", async () => {
    const hook = `${stage.mock}/__hooks/ok/${tag()}`;
    const created = await fetch(`${stage.origin}/v1/webhook_endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "console test", url: hook, event_types: ["response.completed"] }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const response = await alice.openai.responses.create({
      model: `text:2#${tag()}`,
      input: "Notify me",
      background: true,
    });
    const received = (name: string) =>
      fetch(`${stage.mock}/__mock/hooks?name=${encodeURIComponent(name)}`).then(
        (res) => res.json() as Promise<unknown[]>,
      );
    const hookName = new URL(hook).pathname.slice("/__hooks/".length);
    await until(
      () =>
        fetch(`${stage.origin}/v1/responses/${response.id}/webhook_deliveries`, {
          headers: { authorization: `Bearer ${alice.key}` },
        }).then((res) => res.json() as Promise<{ data: { status: string }[] }>),
      (list) => list.data[0]?.status === "delivered",
      "the delivery",
    );
    await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
    const delivery = page.locator(".delivery");
    await delivery.getByText("1 attempt", { exact: true }).waitFor();
    expect(await delivery.locator(".status").textContent()).toBe("delivered");
    await delivery.getByRole("button", { name: "Resend" }).click();
    await until(
      () => received(hookName),
      (hooks) => hooks.length === 2,
      "the resent webhook",
    );
    // The resend's attempt shows once the gateway has recorded it.
    await until(
      async () => {
        await page.reload();
        await page.locator(".delivery .attempts").waitFor();
        return page.locator(".delivery .attempts tbody tr").count();
      },
      (rows) => rows === 2,
      "the second attempt in the page",
    );
    await page.screenshot({ path: join(SHOTS, "response-webhooks.png"), fullPage: true });
  });

  it("shows a compaction item as one, by its id and its sealed summary's size, and no sealed blob", async () => {
    const m = tag();
    const compacted = await alice.openai.responses.compact({
      model: `text:2#${m}`,
      input: [
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Hi" },
        { role: "user", content: "Go on" },
      ],
    });
    const compaction = compacted.output.find((item) => item.type === "compaction") as {
      id: string;
      encrypted_content: string;
    };
    const next = await alice.openai.responses.create({
      model: `text:2#${m}`,
      input: [...compacted.output, { role: "user", content: "And now?" }] as OpenAI.Responses.ResponseInputItem[],
    });
    await page.goto(`${stage.origin}/console/#/responses/${next.id}`);
    const item = page.locator(".item.compaction");
    await item.waitFor();
    const shown = await item.textContent();
    expect(shown).toContain(compaction.id);
    expect(shown).toContain(`Sealed summary of the earlier context, ${compaction.encrypted_content.length} characters`);
    expect(shown).not.toContain(compaction.encrypted_content);
    // A reasoning item's sealed content is shown by its size in the raw JSON too.
    const thought = await alice.openai.responses.create({
      model: `think:lookup#${m}`,
      input: "Think first",
      include: ["reasoning.encrypted_content"],
    });
    const sealed = (thought.output[0] as { encrypted_content: string }).encrypted_content;
    await page.goto(`${stage.origin}/console/#/responses/${thought.id}`);
    await page.locator(".item.reasoning").waitFor();
    const raw = await page.locator("section", { hasText: "Response object" }).locator("pre").textContent();
    expect(raw).toContain(`"encrypted_content": "[sealed, ${sealed.length} characters]"`);
    expect(raw).not.toContain(sealed);
  });

  it("shows a response's service tier", async () => {
    const response = await alice.openai.responses.create({
      model: `text:2#${tag()}`,
      input: "Flex it",
      service_tier: "flex",
    });
    await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
    const tier = page.locator(".summary dt", { hasText: "Service tier" });
    await tier.waitFor();
    expect(await tier.locator("xpath=following-sibling::dd[1]").textContent()).toBe(response.service_tier);
  });

  it("shows what a response cost where MODEL_PRICES prices its model, as the Usage view prices it, and nothing where not", async () => {
    const m = tag();
    const priced = await alice.openai.responses.create({ model: `text:4#${m}`, input: "Price me" });
    const unpriced = await alice.openai.responses.create({ model: `echo#${m}`, input: "Not me" });
    // The harness prices text:* at $2.50 and $10 a million input and output tokens; the gateway rounds
    // to the nano-dollar, the page shows three digits below a cent.
    const dollars = (value: number) => `$${(Math.round(value * 1e9) / 1e9).toPrecision(3)}`;
    const input = (priced.usage?.input_tokens ?? 0) * 2.5e-6;
    const output = (priced.usage?.output_tokens ?? 0) * 1e-5;
    await page.goto(`${stage.origin}/console/#/responses/${priced.id}`);
    const cost = page.locator(".summary dd.cost");
    await cost.waitFor();
    expect(await cost.textContent()).toBe(
      `${dollars(input + output)} (${dollars(input)} input, cached included · ${dollars(output)} output, reasoning included)`,
    );
    const read = page.waitForResponse((response) => response.url().endsWith(`/${unpriced.id}/usage`));
    await page.goto(`${stage.origin}/console/#/responses/${unpriced.id}`);
    expect(await (await read).json()).not.toHaveProperty("cost");
    await page.locator(".summary dt", { hasText: "Usage" }).waitFor();
    // The frame after the answer is read: the page had its turn to show it.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve))));
    expect(await page.locator(".summary dt", { hasText: "Cost" }).count()).toBe(0);
    await alice.openai.responses.delete(priced.id);
    await alice.openai.responses.delete(unpriced.id);
  });

  it("shows a pending webhook delivery's next attempt time", async () => {
    const hook = `${stage.mock}/__hooks/status:500/${tag()}`;
    const created = await fetch(`${stage.origin}/v1/webhook_endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "failing", url: hook, event_types: ["response.completed"] }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const endpoint = (await created.json()) as { id: string };
    try {
      const response = await alice.openai.responses.create({
        model: `text:2#${tag()}`,
        input: "Retry me",
        background: true,
      });
      type Deliveries = { data: { url: string; status: string; attempt_count: number; next_attempt_at: number }[] };
      const list = await until(
        () =>
          fetch(`${stage.origin}/v1/responses/${response.id}/webhook_deliveries`, {
            headers: { authorization: `Bearer ${alice.key}` },
          }).then((res) => res.json() as Promise<Deliveries>),
        (deliveries) => deliveries.data.some((d) => d.url === hook && d.status === "pending" && d.attempt_count > 0),
        "a failed first attempt",
      );
      expect(list.data.find((d) => d.url === hook)?.next_attempt_at).toEqual(expect.any(Number));
      await page.goto(`${stage.origin}/console/#/responses/${response.id}`);
      const delivery = page.locator(".delivery", { hasText: hook });
      await delivery.locator(".next-attempt time").waitFor();
      expect(await delivery.locator(".next-attempt").textContent()).toContain("next attempt");
    } finally {
      await fetch(`${stage.origin}/v1/webhook_endpoints/${endpoint.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${alice.key}` },
      });
    }
  });

  it("filters by the requested model and says so where the upstream names the model otherwise", async () => {
    const m = tag();
    const routed = await alice.openai.responses.create({ model: `routed/text:2#${m}`, input: "Routed" });
    // The upstream answers with its own name: the Response's `model` is not the one requested.
    expect(routed.model).toBe(`text:2#${m}`);
    await page.goto(`${stage.origin}/console/#/?model=${encodeURIComponent(`routed/text:2#${m}`)}`);
    const row = page.locator(`table.responses tbody tr[data-id="${routed.id}"]`);
    await row.waitFor();
    expect(await row.locator("td").nth(3).textContent()).toBe(`text:2#${m} (requested as routed/text:2#${m})`);
    // The name the list shows is not what the filter matches: the empty list says which name it is.
    await page.goto(`${stage.origin}/console/#/?model=${encodeURIComponent(`text:2#${m}`)}`);
    await expect(page.locator("p.empty").textContent()).resolves.toContain("the name the request asked for");
  });

  it("ends a session whose key the admin revoked at its next read, and says why", async () => {
    const carol = await newTenant("carol");
    await signIn("tenant", carol.key);
    await page.locator("table.responses, p.empty").first().waitFor();
    const keys = await adminCall<{ data: { id: string }[] }>("GET", `/tenants/${carol.id}/keys`);
    await adminCall("POST", `/keys/${keys.data[0]?.id}/revoke`);
    await page.goto(`${stage.origin}/console/#/usage`);
    await expect(page.getByRole("alert").textContent()).resolves.toContain(
      "Signed out: the gateway no longer accepts this key.",
    );
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("walls tenants off: another tenant's key sees none of it, and its response id is not found", async () => {
    await signIn("tenant", bob.key);
    await page.locator("table.responses tbody tr").first().waitFor();
    const shown = await page
      .locator("table.responses tbody tr")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-id")));
    expect(shown).toEqual([ids.bob]);
    await page.goto(`${stage.origin}/console/#/responses/${ids.first}`);
    await expect(page.getByRole("alert").textContent()).resolves.toBe(`Response with id '${ids.first}' not found.`);
    expect(await page.content()).not.toContain("Say four words");
  });

  it("answers a link whose id is a dot segment 'not found', reading no other route", async () => {
    await signIn("tenant", alice.key);
    // The list sign-in lands on has read its page (its own /v1/responses) before requests are counted.
    await page.locator("table.responses").waitFor();
    const read: string[] = [];
    const listener = (request: { url(): string }) => read.push(new URL(request.url()).pathname);
    page.on("request", listener);
    const errors: string[] = [];
    const onError = (error: Error) => errors.push(error.message);
    page.on("pageerror", onError);
    try {
      // The browser resolves /v1/responses/. to the list and /v1/responses/.. to /v1/, %2e or not.
      for (const [link, id] of [
        [".", "."],
        ["%2e", "."],
        ["..", ".."],
        ["%2E%2e", ".."],
      ]) {
        await page.goto(`${stage.origin}/console/#/responses/${link}`);
        await expect(page.getByRole("alert").textContent()).resolves.toBe(`Response with id '${id}' not found.`);
      }
    } finally {
      page.off("request", listener);
      page.off("pageerror", onError);
    }
    expect(errors).toEqual([]);
    expect(read.filter((path) => !path.startsWith("/console/"))).toEqual([]);
  });

  it("keeps the usage range form when the gateway refuses a range, so it can be put right", async () => {
    await signIn("tenant", alice.key);
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    await page.goto(`${stage.origin}/console/#/usage?start_date=${day(1)}&end_date=${day(0)}`);
    await expect(page.getByRole("alert").textContent()).resolves.toContain("must not be after 'end_date'");
    await page.locator('input[name="start_date"]').fill(day(-7));
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator(".totals").waitFor();
    expect(page.url()).toContain(`start_date=${day(-7)}`);
    // A range with no usage: nothing to price, so no advice to set MODEL_PRICES (it is set here).
    await page.goto(`${stage.origin}/console/#/usage?start_date=2020-01-01&end_date=2020-01-02`);
    await until(
      () => page.locator(".totals").textContent(),
      (totals) => totals?.startsWith("0 tokens") ?? false,
      "an empty range's totals",
    );
    expect(await page.locator("main").textContent()).not.toContain("Set MODEL_PRICES");
  });

  it("lets the operator see every tenant's responses with their tenant, and usage with dollars", async () => {
    await signIn("admin", ADMIN_TOKEN);
    await page.locator("table.responses tbody tr").first().waitFor();
    const table = await page.locator("table.responses").textContent();
    expect(table).toContain(alice.id);
    expect(table).toContain(bob.id);
    // A phone shows the columns a response is picked by, with no sideways scroll; a wider screen all of them.
    const headers = () => page.locator("table.responses th:visible").allTextContents();
    expect(await headers()).toEqual(["Created", "Response", "Status", "Model", "Tenant", "Tokens", "Output"]);
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      expect(await headers()).toEqual(["Created", "Response", "Status", "Model"]);
      const scroll = page.locator("main .scroll-x").first();
      expect(await scroll.evaluate((element) => element.scrollWidth - element.clientWidth)).toBe(0);
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
    await page.goto(`${stage.origin}/console/#/?tenant_id=${bob.id}`);
    await until(
      () =>
        page.locator("table.responses tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-id"))),
      (rows) => rows.length === 1 && rows[0] === ids.bob,
      "bob's response alone",
    );
    // More models than the stacked chart has colours: the smallest are summed as one series.
    const many = tag();
    for (let index = 0; index < 9; index++)
      await alice.openai.responses.create({ model: `text:1#${many}-${index}`, input: "x" });
    await page.goto(`${stage.origin}/console/#/usage`);
    await page.locator('figure.days svg rect:not([height="0"])').first().waitFor();
    const legend = await page.locator("figure.days .legend > span").allTextContents();
    expect(legend.length).toBe(8);
    expect(legend.at(-1)).toMatch(/^\d+ other models$/);
    expect(await page.locator(".totals").textContent()).toMatch(/\$[0-9.]+ for the priced models/);
    expect(await page.locator("table.bars").last().textContent()).toContain(alice.id);
    await page.screenshot({ path: join(SHOTS, "usage.png"), fullPage: true });
    // On a phone a name wraps after a separator (text:1#…-3), not mid-word, and a cost at its spaces: each
    // part that fits the column stays on one line, and the page does not scroll sideways.
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(375);
      // The name gets the room, not the bar (a comparison): squeezed by the cost beside it, the name
      // column split "(pass-through key)" every few letters.
      const widths = await page
        .locator("table.bars tr")
        .evaluateAll((rows) => rows.map((row) => [...row.children].map((cell) => cell.getBoundingClientRect().width)));
      expect(widths.filter(([name = 0, bar = 0]) => name <= bar)).toEqual([]);
      const split = await page.locator("table.bars th, table.bars td.note").evaluateAll((cells) =>
        cells.flatMap((cell) => {
          const nodes: Text[] = [];
          const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) nodes.push(walker.currentNode as Text);
          const at = (offset: number): [Text, number] => {
            for (const node of nodes) {
              if (offset <= node.length) return [node, offset];
              offset -= node.length;
            }
            throw new Error("past the text");
          };
          const column = cell.clientWidth - 16;
          const broken: string[] = [];
          for (const part of (cell.textContent ?? "").matchAll(/[^-_:/#.@]+[-_:/#.@]?/g)) {
            const range = document.createRange();
            range.setStart(...at(part.index));
            range.setEnd(...at(part.index + part[0].length));
            const rects = [...range.getClientRects()].filter((rect) => rect.width > 0);
            const lines = new Set(rects.map((rect) => Math.round(rect.bottom)));
            const wide = part[0].length * 8 > column;
            if (lines.size > 1 && !wide) broken.push(`${cell.textContent}: ${part[0]} (${column} px)`);
          }
          return broken;
        }),
      );
      expect(split).toEqual([]);
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
    expect(pageErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
  });

  it("lists the tenants for the operator with each one's shard, and a move under way", async () => {
    // The harness has one shard, so no move can run: the list's answer gets a tenant's mark added,
    // as GET /admin/tenants shows it during a move (docs/sharding.md).
    const tenants = "**/admin/tenants?*";
    await page.route(tenants, async (route) => {
      const answer = await route.fetch();
      const list = (await answer.json()) as { data: { id: string; moving_to: string | null }[] };
      for (const tenant of list.data) if (tenant.id === bob.id) tenant.moving_to = "DB_2";
      await route.fulfill({ response: answer, json: list });
    });
    try {
      await page.goto(`${stage.origin}/console/#/tenants`);
      const row = (id: string) => page.locator(`table.tenants tbody tr[data-id="${id}"]`);
      await row(alice.id).waitFor();
      expect(await row(alice.id).locator(".shard").textContent()).toBe("DB");
      expect(await row(bob.id).locator(".shard").textContent()).toBe("DBmoving to DB_2");
      // A tenant leads to its responses.
      await row(bob.id).getByRole("link", { name: "Responses" }).click();
      await until(
        () =>
          page.locator("table.responses tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id"))),
        (rows) => rows.length === 1 && rows[0] === ids.bob,
        "bob's responses from the tenants list",
      );
    } finally {
      await page.unroute(tenants);
    }
  });

  it("shows a tenant's webhook deliveries to the operator, failed first, then pending, and opens one", async () => {
    const dave = await newTenant("dave");
    const deliveriesOf = (status: string) =>
      adminCall<{ data: { id: string; response_id: string; attempt_count: number }[] }>(
        "GET",
        `/tenants/${dave.id}/webhook_deliveries?status=${status}`,
      );
    const endpoint = (scenario: string) =>
      adminCall<{ id: string; url: string }>("POST", `/tenants/${dave.id}/webhook_endpoints`, {
        url: `${stage.mock}/__hooks/${scenario}/${tag()}`,
        event_types: ["response.completed"],
      });
    const notify = () => dave.openai.responses.create({ model: `text:1#${tag()}`, input: "hook", background: true });
    // Delivered, then given up (its endpoint deleted after a failed attempt), then still being retried.
    const ok = await endpoint("ok");
    await notify();
    await until(
      () => deliveriesOf("delivered"),
      (list) => list.data.length === 1,
      "the delivered one",
    );
    await adminCall("DELETE", `/tenants/${dave.id}/webhook_endpoints/${ok.id}`);
    const gone = await endpoint("status:500");
    const failing = await notify();
    await until(
      () => deliveriesOf("pending"),
      (list) => (list.data[0]?.attempt_count ?? 0) > 0,
      "a failed attempt",
    );
    await adminCall("DELETE", `/tenants/${dave.id}/webhook_endpoints/${gone.id}`);
    const failed = await until(
      () => deliveriesOf("failed"),
      (list) => list.data.length === 1,
      "the given-up one",
    );
    const retrying = await endpoint("status:500");
    try {
      await notify();
      const pending = await until(
        () => deliveriesOf("pending"),
        (list) => (list.data[0]?.attempt_count ?? 0) > 0,
        "the pending one",
      );
      await page.goto(`${stage.origin}/console/#/?tenant_id=${dave.id}`);
      await page.locator("table.responses tbody tr").first().getByRole("link", { name: dave.id }).click();
      const rows = page.locator("table.tenant-deliveries tbody tr[data-delivery]");
      await rows.first().waitFor();
      expect(await page.locator("h1").textContent()).toBe("dave");
      expect(await rows.evaluateAll((all) => all.map((row) => row.getAttribute("data-delivery")))).toEqual([
        failed.data[0]?.id,
        pending.data[0]?.id,
      ]);
      const given = rows.first();
      expect(await given.locator(".status").textContent()).toBe("failed");
      // An event type is a word, not an id: one line box, not "response.compl" over "eted".
      expect(await given.locator("td.events code").evaluate((code) => code.getClientRects().length)).toBe(1);
      // The endpoint was made without a name (the admin API's default ""): the cell says so.
      const unnamed = page.locator(`table.tenant-endpoints tbody tr[data-endpoint="${retrying.id}"]`);
      await unnamed.waitFor();
      expect(await unnamed.locator("td").first().textContent()).toBe("(no name)");
      expect(await unnamed.locator("td:first-child .muted").count()).toBe(1);
      expect(await given.textContent()).toContain(gone.url);
      expect(await given.locator(".last-error").textContent()).toBe("The webhook endpoint was deleted.");
      expect(await rows.last().locator(".last-error").textContent()).toMatch(/^HTTP 500 next attempt /);
      await given.getByRole("button", { name: "Open" }).click();
      const opened = page.locator("tr.opened");
      await opened.locator(".attempts tbody tr").last().waitFor();
      expect(await opened.locator(".attempts tbody tr td:last-child").allTextContents()).toEqual([
        ...Array<string>(failed.data[0]!.attempt_count - 1).fill("HTTP 500"),
        "The webhook endpoint was deleted.",
      ]);
      expect(await opened.getByRole("link").textContent()).toBe(failing.id);
      await page.screenshot({ path: join(SHOTS, "tenant-webhooks.png"), fullPage: true });
      // The pending one goes on being tried after the page was read: opened, its row shows what the opening read.
      const retried = rows.last();
      const shown = Number(await retried.locator("td.num").textContent());
      await until(
        () => deliveriesOf("pending"),
        (list) => (list.data[0]?.attempt_count ?? 0) > shown,
        "another attempt",
        30_000,
      );
      await retried.getByRole("button", { name: "Open" }).click();
      const read = page.locator("tr.opened .attempts tbody tr");
      await read.first().waitFor();
      expect(await read.count()).toBeGreaterThan(shown);
      await until(
        async () => [Number(await retried.locator("td.num").textContent()), await read.count()],
        ([row, opened]) => row === opened,
        "the row's attempts as the opening read them",
      );
      // Every status, newest first: the delivered one too.
      await page.locator('select[name="status"]').selectOption("any");
      await page.getByRole("button", { name: "Show" }).click();
      await until(
        () => rows.count(),
        (count) => count === 3,
        "every delivery",
      );
    } finally {
      await adminCall("DELETE", `/tenants/${dave.id}/webhook_endpoints/${retrying.id}`);
    }
  });

  it("shows a tenant's keys (never a secret) and webhook endpoints", async () => {
    const erin = await newTenant("erin");
    await erin.openai.responses.create({ model: `text:1#${tag()}`, input: "hi" });
    const spare = await adminCall<{ id: string; key: string }>("POST", `/tenants/${erin.id}/keys`, { name: "spare" });
    const old = await adminCall<{ id: string; key: string }>("POST", `/tenants/${erin.id}/keys`, { name: "old" });
    await adminCall("POST", `/keys/${old.id}/revoke`);
    const keys = await until(
      () =>
        adminCall<{ data: { id: string; prefix: string; last_used_at: number | null }[] }>(
          "GET",
          `/tenants/${erin.id}/keys`,
        ),
      (list) => list.data.some((key) => key.last_used_at !== null),
      "the used key's last use",
    );
    const hook = await adminCall<{ id: string; url: string; signing_secret: string; signing_secret_hint: string }>(
      "POST",
      `/tenants/${erin.id}/webhook_endpoints`,
      { name: "ops", url: `${stage.mock}/__hooks/ok/${tag()}`, event_types: ["response.failed", "response.cancelled"] },
    );
    await signIn("admin", ADMIN_TOKEN);
    await page.goto(`${stage.origin}/console/#/tenants/${erin.id}`);
    const key = (id: string) => page.locator(`table.tenant-keys tbody tr[data-key="${id}"]`);
    await key(old.id).waitFor();
    expect(await page.locator("table.tenant-keys tbody tr").count()).toBe(3);
    const used = keys.data.find((each) => each.last_used_at !== null)!;
    expect(await key(used.id).textContent()).toContain(`${used.prefix}…`);
    expect(await key(used.id).locator(".last-used time").count()).toBe(1);
    expect(await key(used.id).locator(".revoked-at").textContent()).toBe("no");
    expect(await key(spare.id).locator(".last-used").textContent()).toBe("never");
    expect(await key(old.id).locator(".revoked-at time").count()).toBe(1);
    expect(await key(old.id).getAttribute("class")).toBe("revoked");
    const endpoint = page.locator(`table.tenant-endpoints tbody tr[data-endpoint="${hook.id}"]`);
    expect(await endpoint.textContent()).toContain(hook.url);
    expect(await endpoint.locator(".events").textContent()).toBe("response.failed, response.cancelled");
    expect(await endpoint.textContent()).toContain(hook.signing_secret_hint);
    const text = (await page.locator("main").textContent()) ?? "";
    for (const secret of [erin.key, spare.key, old.key, hook.signing_secret]) expect(text).not.toContain(secret);
  });

  it("says an unknown tenant is not found once, not again for each of its lists", async () => {
    // Its lists wait for the tenant's read: read with it, one's 404 could show under its heading first
    // (the alert this test waited for, with the heading still there, 1 run in 3).
    const read: string[] = [];
    const record = (request: { url(): string }) => read.push(new URL(request.url()).pathname);
    page.on("request", record);
    try {
      await page.goto(`${stage.origin}/console/#/tenants/tenant_nope`);
      await page.getByRole("alert").first().waitFor();
      expect(await page.getByRole("alert").allTextContents()).toEqual([expect.stringContaining("tenant_nope")]);
      expect(await page.locator("h2").count()).toBe(0);
      expect(read.filter((path) => path.startsWith("/admin/tenants/tenant_nope"))).toEqual([
        "/admin/tenants/tenant_nope",
      ]);
    } finally {
      page.off("request", record);
    }
  });

  it("shows the operator each shard's migration and every tenant's failed and pending deliveries", async () => {
    const frank = await newTenant("frank");
    const gina = await newTenant("gina");
    const endpoints = async (tenant: Tenant, scenario: string, count: number) => {
      const made: string[] = [];
      for (let index = 0; index < count; index++)
        made.push(
          (
            await adminCall<{ id: string }>("POST", `/tenants/${tenant.id}/webhook_endpoints`, {
              url: `${stage.mock}/__hooks/${scenario}/${tag()}`,
              event_types: ["response.completed"],
            })
          ).id,
        );
      return made;
    };
    // 410 Gone is given up at its first attempt; a 429 asking for an hour stays pending until then.
    // 21 failed across two tenants: more than a page (20).
    await endpoints(frank, "status:410", 11);
    await endpoints(gina, "status:410", 10);
    const [waiting] = await endpoints(gina, "retry-after:3600", 1);
    const across = (status: string) =>
      adminCall<{ data: { id: string; tenant_id: string; attempt_count: number }[] }>(
        "GET",
        `/webhook_deliveries?status=${status}&limit=100`,
      );
    const ours = <T extends { tenant_id: string }>(rows: T[]) =>
      rows.filter((row) => [frank.id, gina.id].includes(row.tenant_id));
    await frank.openai.responses.create({ model: `text:1#${tag()}`, input: "hooks", background: true });
    await gina.openai.responses.create({ model: `text:1#${tag()}`, input: "hooks", background: true });
    const failed = await until(
      () => across("failed"),
      (list) => ours(list.data).length === 21,
      "21 deliveries given up",
    );
    const pending = await until(
      () => across("pending"),
      (list) => ours(list.data).some((row) => row.attempt_count > 0),
      "gina's delivery being retried",
    );
    const retried = ours(pending.data)[0]!;
    try {
      await signIn("admin", ADMIN_TOKEN);
      await page.getByRole("link", { name: "Health", exact: true }).click();
      const shard = page.locator('table.shards tbody tr[data-shard="DB"]');
      await shard.waitFor();
      expect(await shard.locator(".state").textContent()).toBe("migrated");
      expect(await shard.locator(".moves").textContent()).toBe("none");
      const required = (await page.locator("main > p.muted code").textContent()) ?? "";
      expect(required).toMatch(/^\d{4}_/);
      expect(await shard.locator("td").nth(2).textContent()).toBe(required);
      // No run here is older than its bound (65 minutes): the section says so.
      expect(await page.locator(".stuck-runs .empty").textContent()).toBe("No response is running past its bound.");
      // By default the failed (a page of the newest) then the pending, each with its tenant.
      const rows = page.locator("table.tenant-deliveries tbody tr[data-delivery]");
      const shown = () => rows.evaluateAll((all) => all.map((row) => row.getAttribute("data-delivery")));
      await rows.first().waitFor();
      const listed = await shown();
      expect(listed.slice(0, 20)).toEqual(failed.data.slice(0, 20).map((row) => row.id));
      // Another test's delivery may be given up meanwhile: the pending part is checked for ours.
      expect(listed.slice(20)).toContain(retried.id);
      const row = page.locator(`tr[data-delivery="${retried.id}"]`);
      expect(await row.locator(".status").textContent()).toBe("pending");
      expect(await row.locator(".last-error").textContent()).toMatch(/^HTTP 429 \(Retry-After: 3600 s\) next attempt /);
      // More failed than a page: its own list, paged by cursor.
      await page.getByRole("link", { name: "More failed »" }).click();
      await until(shown, (ids) => ids.length === 20 && ids[0] === failed.data[0]?.id, "the failed ones alone");
      await page.getByRole("link", { name: "Older »" }).click();
      await until(shown, (ids) => ids[0] === failed.data[20]?.id, "the next page of failed ones");
      await page.getByRole("link", { name: "« Newest" }).waitFor();
      // A delivery's tenant leads to the tenant.
      await rows.first().locator("td.tenant a").click();
      await page
        .locator("h1")
        .filter({ hasText: /^(frank|gina)$/ })
        .waitFor();
      await page.goto(`${stage.origin}/console/#/health`);
      await rows.first().waitFor();
      await page.screenshot({ path: join(SHOTS, "health.png") });
      // The gateway's refusal is shown as every view shows one; the shards are still there.
      await page.goto(`${stage.origin}/console/#/health?status=failed&after=whd_nope`);
      await page.getByRole("alert").waitFor();
      expect(await page.getByRole("alert").textContent()).toContain("no webhook delivery with id 'whd_nope'");
      await shard.waitFor();
      expect(pageErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
    } finally {
      await adminCall("DELETE", `/tenants/${gina.id}/webhook_endpoints/${waiting}`);
    }
  });

  it("shows a shard behind on its migrations, one not read, and the tenants being moved off one", async () => {
    // The harness has one shard, migrated: the answer gets shards added as GET /admin/shards shows them.
    const shards = "**/admin/shards";
    await page.route(shards, async (route) => {
      const answer = await route.fetch();
      const list = (await answer.json()) as { data: Record<string, unknown>[] };
      const [db] = list.data;
      list.data = [
        { ...db, moving_out: [{ tenant_id: bob.id, moving_to: "DB_2" }] },
        { ...db, id: "DB_2", weight: 0, migration: "0003_old", migrated: false },
        { ...db, id: "DB_3", migration: null, migrated: false, error: "D1_ERROR: no such table: d1_migrations" },
      ];
      await route.fulfill({ response: answer, json: list });
    });
    try {
      // A reload: the page may be on this view already, its shards read before the route.
      await page.goto(`${stage.origin}/console/#/health`);
      await page.reload();
      const row = (id: string) => page.locator(`table.shards tbody tr[data-shard="${id}"]`);
      await row("DB_3").waitFor();
      const required = (await page.locator("main > p.muted code").textContent()) ?? "";
      expect(await row("DB_2").locator(".state").textContent()).toBe(`behind needs ${required}`);
      expect(await row("DB_3").locator(".state").textContent()).toBe(
        "unreadable D1_ERROR: no such table: d1_migrations",
      );
      expect(await row("DB_3").locator("td").nth(2).textContent()).toBe("none");
      expect(await row("DB").locator(".moves").textContent()).toBe(`${bob.id} to DB_2`);
      await row("DB").locator(".moves a").click();
      await page.locator("h1").filter({ hasText: /^bob$/ }).waitFor();
    } finally {
      await page.unroute(shards);
    }
  });

  it("lists the responses running past their bound, every tenant's, each leading to its page", async () => {
    // No run of the harness is 65 minutes old: the lists' answers get real responses made stuck, as
    // GET /admin/responses?status=…&created_before=… shows them.
    const asked: URLSearchParams[] = [];
    const lists = "**/admin/responses?*";
    await page.route(lists, async (route) => {
      const url = new URL(route.request().url());
      const status = url.searchParams.get("status");
      if (status !== "in_progress" && status !== "queued") return route.fallback();
      asked.push(url.searchParams);
      const id = status === "in_progress" ? ids.first : ids.bob;
      const one = await adminCall<Record<string, unknown>>("GET", `/responses/${id}`);
      await route.fulfill({
        json: { object: "list", data: [{ ...one, status }], first_id: id, last_id: id, has_more: status === "queued" },
      });
    });
    try {
      await signIn("admin", ADMIN_TOKEN);
      const started = Math.floor(Date.now() / 1000);
      // From Responses (where sign-in lands): the view mounts and reads once.
      await page.goto(`${stage.origin}/console/#/health`);
      const row = (id: string) => page.locator(`table.stuck tbody tr[data-id="${id}"]`);
      await row(ids.bob!).waitFor();
      expect(asked.map((params) => params.get("status")).sort()).toEqual(["in_progress", "queued"]);
      for (const params of asked) {
        const before = Number(params.get("created_before"));
        expect(before).toBeGreaterThanOrEqual(started - 65 * 60 - 5);
        expect(before).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) - 65 * 60);
      }
      expect(await row(ids.first!).locator(".status").textContent()).toBe("in progress");
      expect(await row(ids.bob!).locator(".status").textContent()).toBe("queued");
      expect(await row(ids.bob!).locator("td").nth(4).textContent()).toBe(bob.id);
      // More queued than shown: the Responses list, filtered the same way.
      const more = page.getByRole("link", { name: "More queued »" });
      expect(await more.getAttribute("href")).toMatch(
        /^#\/\?status=queued&created_before=\d{4}-\d\d-\d\dT\d\d%3A\d\d$/,
      );
      await row(ids.first!).locator("a").first().click();
      await page.waitForURL(`**/console/#/responses/${ids.first}`);
    } finally {
      await page.unroute(lists);
    }
  });

  it("shows the settings the deployment runs on, secrets only as set, and what is wrong with them", async () => {
    await signIn("admin", ADMIN_TOKEN);
    await page.goto(`${stage.origin}/console/#/health`);
    const section = page.locator("section.configuration");
    await section.locator("p.empty").waitFor();
    expect(await section.locator("p.empty").textContent()).toBe("No setting is wrong.");
    await section.getByText(/^Settings \(\d+\)$/).click();
    const setting = (name: string) => section.locator("table.settings tr").filter({ hasText: name }).locator("td");
    expect(await setting("ADMIN_TOKEN").textContent()).toBe("(set)");
    expect(await setting("MAX_RUN_SECONDS").textContent()).toBe("(default 3600)");
    expect(await section.textContent()).not.toContain(ADMIN_TOKEN);
    // A wrong setting and a mistyped one, as GET /admin/configuration reports them.
    const configuration = "**/admin/configuration";
    await page.route(configuration, async (route) => {
      const answer = await route.fetch();
      const body = (await answer.json()) as Record<string, unknown>;
      body.problems = [
        {
          setting: "RECORD_FLUSH_SECONDS",
          scope: "upstream calls",
          message: "RECORD_FLUSH_SECONDS is '0'; allowed: 1 to 300 seconds.",
        },
      ];
      body.misspelt = [{ name: "MAX_RUN_SECOND", meant: "MAX_RUN_SECONDS" }];
      await route.fulfill({ response: answer, json: body });
    });
    try {
      await page.reload();
      const problems = section.locator("ul.problems li");
      await problems.nth(1).waitFor();
      expect(await problems.allTextContents()).toEqual([
        "RECORD_FLUSH_SECONDS is '0'; allowed: 1 to 300 seconds. (upstream calls refused)",
        "MAX_RUN_SECOND is not a setting and is ignored; did you mean MAX_RUN_SECONDS?",
      ]);
    } finally {
      await page.unroute(configuration);
    }
  });

  it("lets the operator sign in and see Health while a shard is not migrated, where every list across tenants fails", async () => {
    // As the gateway answers every read that reaches a shard without this version's tables.
    const notMigrated = {
      error: {
        message: "The gateway's database is missing tables or columns this version needs.",
        type: "server_error",
        param: null,
        code: "database_not_migrated",
      },
    };
    const lists = ["**/admin/responses?*", "**/admin/webhook_deliveries?*"];
    for (const list of lists) await page.route(list, (route) => route.fulfill({ status: 500, json: notMigrated }));
    // The harness's one shard is migrated: the sign-in's answer gets a second one, behind.
    const shards = "**/admin/shards";
    await page.route(shards, async (route) => {
      const answer = await route.fetch();
      const list = (await answer.json()) as { data: Record<string, unknown>[] };
      list.data.push({ ...list.data[0], id: "DB_2", migration: null, migrated: false });
      await route.fulfill({ response: answer, json: list });
    });
    try {
      await page.goto(`${stage.origin}/console/`);
      const signOut = page.getByRole("button", { name: "Sign out" });
      if (await signOut.isVisible()) await signOut.click();
      await page.getByLabel("the admin token", { exact: false }).check();
      await page.locator('input[name="token"]').fill(ADMIN_TOKEN);
      await page.locator('input[name="token"]').press("Enter");
      // Lands on Health, not on Responses (which would only show the 500).
      await page.locator('table.shards tbody tr[data-shard="DB_2"]').waitFor();
      expect(new URL(page.url()).hash).toBe("#/health");
      // With focus in it: the hash changes a render after the session, and focus given to the list
      // shown meanwhile went with it, back to <body>.
      expect(await page.evaluate(() => document.activeElement?.closest("main")?.className)).toBe("health");
      const alerts = page.getByRole("alert");
      await until(
        () => alerts.allTextContents(),
        (texts) => texts.length === 2,
        "the runs' and the deliveries' errors",
      );
      expect(await alerts.allTextContents()).toEqual([notMigrated.error.message, notMigrated.error.message]);
    } finally {
      for (const list of lists) await page.unroute(list);
      await page.unroute(shards);
    }
  });

  it("previews a response whose only output is a refusal as the detail page words it", async () => {
    // The mock model does not refuse: the list's answer gets one response's output made a refusal, as a model's is stored.
    const m = tag();
    const answered = await alice.openai.responses.create({ model: `text:2#${m}`, input: "Say two words" });
    const refused = await alice.openai.responses.create({ model: `text:2#${m}`, input: "Say something you must not" });
    const list = "**/v1/responses?*";
    await page.route(list, async (route) => {
      const answer = await route.fetch();
      const body = (await answer.json()) as { data: { id: string; output: unknown[] }[] };
      for (const response of body.data)
        if (response.id === refused.id)
          response.output = [
            {
              id: "msg_refused",
              type: "message",
              role: "assistant",
              status: "completed",
              content: [{ type: "refusal", refusal: "I can't help with that." }],
            },
          ];
      await route.fulfill({ response: answer, json: body });
    });
    try {
      await signIn("tenant", alice.key);
      const row = page.locator(`table.responses tbody tr[data-id="${refused.id}"]`);
      await row.waitFor();
      expect(await row.locator(".preview").textContent()).toBe("Refusal: I can't help with that.");
      expect(await page.locator(`tr[data-id="${answered.id}"] .preview`).textContent()).toBe("w0 w1 ");
    } finally {
      await page.unroute(list);
    }
  });
});
