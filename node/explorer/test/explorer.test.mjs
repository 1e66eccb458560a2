// The explorer in a real headless Chromium (Debian's, driven by playwright-core: nothing
// downloads a browser), against a live dev chain that node/tests/explorer.rs starts with a
// token deployed and transfers made. Each page is opened and its DOM checked; screenshots
// go to PHALANX_SCREENSHOTS. Skipped when PHALANX_EXPLORER is not set.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";

const env = process.env;
const live = env.PHALANX_EXPLORER ? test : test.skip;
const shots = env.PHALANX_SCREENSHOTS ?? "screenshots";

live("every page of the explorer against a live chain", { timeout: 180_000 }, async (t) => {
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
    // Nothing but the node itself is ever asked for anything.
    const origin = new URL(env.PHALANX_EXPLORER).origin;
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.origin !== origin && `http://${u.host}` !== origin) errors.push(`external request: ${r.url()}`);
    });
    const base = `${env.PHALANX_EXPLORER}`;
    const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    // Opens a page and waits for its own heading (a fragment change keeps the old page
    // around until the router has drawn the new one).
    const go = async (hash, heading) => {
      await page.goto(`${base}${hash}`);
      await page.waitForFunction((t) => document.querySelector("main h1")?.textContent === t, heading);
    };

    await t.test("overview: blocks arrive live", async () => {
      await go("#/", "Chain overview");
      await page.waitForSelector("#latest-blocks tbody tr");
      const first = Number(await page.textContent("#latest-blocks tbody tr td"));
      // A new block appears without reloading (the dev chain makes one a second at least).
      await page.waitForFunction(
        (h) => Number(document.querySelector("#latest-blocks tbody tr td")?.textContent) > h,
        first,
        { timeout: 15_000 },
      );
      assert.match(await page.textContent("#conn"), /live/);
      await shot("overview");
    });

    await t.test("validators: the set and who signed", async () => {
      await go("#/validators", "Validators");
      await page.waitForSelector("table.grid-sig tbody tr");
      const marks = await page.$$eval("table.grid-sig td.ok", (c) => c.length);
      assert.ok(marks > 0, "signatures are marked");
      assert.match(await page.textContent("main"), /1 validator with one vote each/);
      assert.match(await page.textContent("#evidence"), /No equivocation evidence/);
      await shot("validators");
    });

    await t.test("block: header, signers, transactions", async () => {
      await go(`#/block/${env.PHALANX_TRANSFER_HEIGHT}`, `Block ${env.PHALANX_TRANSFER_HEIGHT}`);
      const signers = await page.$$eval("#signers li", (l) => l.map((x) => x.textContent));
      assert.deepEqual(signers, [env.PHALANX_VALIDATOR]);
      assert.match(await page.textContent("#state-root"), /^[0-9a-f]{64}$/);
      await page.waitForSelector(`a[href="#/tx/${env.PHALANX_TRANSFER_TX}"]`);
      await shot("block");
    });

    await t.test("transaction: receipt and events", async () => {
      await go(`#/tx/${env.PHALANX_TRANSFER_TX}`, "Transaction");
      assert.equal(await page.textContent("#tx-status"), "succeeded");
      const events = await page.textContent("#events");
      assert.match(events, /transfer/);
      assert.match(events, /"amount": "250"/);
      await shot("transaction");
    });

    await t.test("search finds a transaction, a block and an address", async () => {
      await go("#/", "Chain overview");
      await page.fill("#q", env.PHALANX_TRANSFER_TX);
      await page.press("#q", "Enter");
      await page.waitForURL(`**#/tx/${env.PHALANX_TRANSFER_TX}`);
      await page.fill("#q", env.PHALANX_TRANSFER_HEIGHT);
      await page.press("#q", "Enter");
      await page.waitForURL(`**#/block/${env.PHALANX_TRANSFER_HEIGHT}`);
      await page.fill("#q", env.PHALANX_TOKEN);
      await page.press("#q", "Enter");
      await page.waitForURL(`**#/contract/${env.PHALANX_TOKEN}`);
      await page.fill("#q", "not a thing");
      await page.press("#q", "Enter");
      await page.waitForSelector("main .error");
    });

    await t.test("account: nonce and recent transactions", async () => {
      await go(`#/account/${env.PHALANX_DEV_ADDRESS}`, "Account");
      assert.equal(await page.textContent("#nonce"), env.PHALANX_DEV_NONCE);
      const rows = await page.$$eval("#account-txs tbody tr", (r) => r.map((x) => x.textContent));
      assert.equal(rows.length, Number(env.PHALANX_DEV_NONCE));
      assert.ok(rows[0].startsWith(String(Number(env.PHALANX_DEV_NONCE) - 1)), "newest first");
      await shot("account");
    });

    await t.test("contract: record, an ABI-driven query, events", async () => {
      await go(`#/contract/${env.PHALANX_TOKEN}`, "Contract Token");
      assert.match(await page.textContent("#admin"), /none/);
      await page.waitForSelector("#contract-events tbody tr");
      const form = page.locator('form[data-method="balance_of"]');
      await form.getByLabel(/account/).fill(env.PHALANX_RECIPIENT);
      await form.getByRole("button", { name: "Query" }).click();
      await page.waitForFunction(() => document.querySelector('form[data-method="balance_of"] pre')?.textContent === '"250"');
      // A bad argument is refused before anything is sent.
      await form.getByLabel(/account/).fill("xyz");
      await form.getByRole("button", { name: "Query" }).click();
      await form.locator(".error").waitFor();
      assert.match(await form.locator(".error").textContent(), /Not sent/);
      await shot("contract");
    });

    await t.test("proof: verified against genesis, and a wrong genesis refused", async () => {
      const key = `62${env.PHALANX_RECIPIENT}`;
      await go(`#/proof?address=${env.PHALANX_TOKEN}&key=${key}&hex=1`, "Verify a proof");
      await page.setInputFiles("#genesis-file", env.PHALANX_GENESIS);
      await page.click('form[aria-label="verify a storage value"] button[type=submit]');
      await page.waitForSelector("#proof-badge");
      assert.match(await page.textContent("#proof-badge"), /Verified against genesis/);
      assert.equal(await page.textContent("#proof-value"), '"250"');
      await shot("proof");
      // Another chain's genesis: the node's certificate is not signed by its validators.
      await page.reload();
      await page.waitForSelector("#genesis-text");
      await page.fill("#genesis-text", env.PHALANX_OTHER_GENESIS_JSON);
      await page.click('form[aria-label="verify a storage value"] button[type=submit]');
      await page.waitForSelector("#proof-badge");
      assert.match(await page.textContent("#proof-badge"), /Not verified/);
    });

    await t.test("a phone-sized screen and the keyboard", async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await go("#/", "Chain overview");
      await page.waitForSelector("#latest-blocks tbody tr");
      // Nothing is wider than the screen but the scrolling tables.
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 390, `page is ${wide}px wide`);
      // Every form field has a label.
      await go("#/proof", "Verify a proof");
      const unlabelled = await page.$$eval("input, textarea, select", (els) =>
        els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")).map((e) => e.id),
      );
      assert.deepEqual(unlabelled, []);
      // The search is reachable by keyboard.
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      assert.ok(await page.evaluate(() => !!document.activeElement && document.activeElement !== document.body));
      await shot("phone");
      await page.setViewportSize({ width: 1280, height: 900 });
    });

    await t.test("a pruned or unknown height says so", async () => {
      await go("#/block/999999999", "Not available");
      await page.waitForSelector("main .error");
      assert.match(await page.textContent("main .error"), /node answered/);
    });

    await t.test("the node down: a clear banner, and back when it returns", async () => {
      await go("#/", "Chain overview");
      await page.waitForSelector("#latest-blocks tbody tr");
      // JSON-RPC requests fail as if the node were gone (the failures this causes are the
      // only errors allowed).
      const before = errors.length;
      const rpcOnly = (u) => u.pathname === "/";
      await page.route(rpcOnly, (r) => r.abort("connectionrefused"));
      await page.waitForSelector("#banner:not([hidden])", { timeout: 15_000 });
      assert.match(await page.textContent("#banner"), /Cannot reach the node/);
      await shot("node-down");
      await page.unroute(rpcOnly);
      await page.waitForSelector("#banner[hidden]", { state: "attached", timeout: 15_000 });
      const expected = errors.splice(before).filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(e));
      assert.deepEqual(expected, []);
    });

    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
