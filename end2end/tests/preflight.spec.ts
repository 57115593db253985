// The preflight: once both accounts are validated, the page shows where every source folder
// goes, what the copy creates and what it would move, above Synchronize. Rendered by the server
// (no JavaScript) and fetched in place after Validate (hydrated); a reload hydrates it cleanly.
import { test, expect } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { harness, WizardPage } from "./wizard-page";

test("after both Validates the preflight shows the folder mapping", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  // No job is queued here: the same account serves both projects.
  const user = h.users.find((u) => u.login.startsWith("alice"))!;
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    // With JavaScript off, Chromium warns that the preloaded WASM went unused when the page
    // stays open a few seconds: a consequence of the setting, not of the page.
    if (!javaScriptEnabled && /preloaded using link preload but not used/.test(m.text())) return;
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  const wizard = new WizardPage(page, javaScriptEnabled);
  await wizard.open();

  const source = wizard.source();
  await wizard.fill(source, { preset: "Other", login: user.login, password: user.password, host: `localhost:${h.slash.imaps_port}`, ssl: true });
  await wizard.validate(source);
  await expect(source.getByRole("status")).toContainText("Connection established.");
  // Not before both accounts are established.
  await expect(wizard.preflight()).toHaveCount(0);

  const destination = wizard.destination();
  await wizard.fill(destination, { preset: "Other", login: user.login, password: user.password, host: `localhost:${h.dot.imaps_port}`, ssl: true });
  await wizard.validate(destination);
  await expect(destination.getByRole("status")).toContainText("Connection established.");

  const check = async () => {
    const preflight = wizard.preflight();
    await expect(preflight.getByRole("columnheader", { name: "Source folder" })).toBeVisible();
    // Archive/2020 → INBOX.Archive.2020 (the `/` server's folders below the `.` server's INBOX).
    const archive = wizard.preflightRow("Archive/2020");
    await expect(archive.getByRole("cell").first()).toContainText("INBOX.Archive.2020");
    await expect(archive).toContainText("will be created");
    await expect(wizard.preflightRow("Empty")).toContainText("INBOX.Empty");
    await expect(wizard.preflightRow("Empty")).toContainText("will be created");
    await expect(wizard.preflightRow("INBOX")).not.toContainText("will be created");
    // A collision: `v1.2` is escaped to `v1_2` at the `.` server, where `v1_2` also goes.
    await expect(wizard.preflightRow("v1_2")).toContainText("INBOX.v1_2");
    await expect(wizard.preflightRow("v1.2")).toContainText("INBOX.v1_2 (2)");
    await expect(wizard.preflightRow("v1.2")).toContainText("renamed");
    // The harness seeds 20 messages (INBOX and Archive/2020); Dovecot reports their size.
    await expect(preflight).toContainText(/20 messages to copy \(\d/);
    // The preflight comes before Synchronize, which stays available.
    await expect(page.getByRole("button", { name: "Synchronize" })).toBeVisible();
    await expect(page.locator("section.preflight ~ section.sync")).toHaveCount(1);
  };
  await check();

  // Reloaded: rendered by the server from the draft, hydrated without errors and without
  // asking the server again.
  const calls: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/preflight")) calls.push(r.url());
  });
  await wizard.open();
  await check();
  expect(calls).toEqual([]);
  expect(await page.content()).not.toContain(user.password);
  expect(errors).toEqual([]);

  // Accessible, also at 360 px where the table scrolls sideways (axe needs page JavaScript).
  if (javaScriptEnabled) {
    for (const width of [1280, 360]) {
      await page.setViewportSize({ width, height: 900 });
      const results = await new AxeBuilder({ page }).include("section.preflight").analyze();
      const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      expect(serious.map((v) => `${width}px ${v.id}: ${v.help}`)).toEqual([]);
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  }
});
