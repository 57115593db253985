// Validate is rate-limited per client address. A server of its own with a limit of 2 per
// minute, so that the main server's limit (high, for the other specs) is not involved.
import { test, expect } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import { startImapcopy } from "../global-setup";
import { harness, WizardPage } from "./wizard-page";

let strict: { url: string; process: ChildProcess } | undefined;

test.beforeEach(async ({}, testInfo) => {
  strict = await startImapcopy(harness().server, `strict-${testInfo.project.name}`, ["--validate-per-minute", "2"]);
});

test.afterEach(async () => {
  strict?.process.kill("SIGTERM");
});

test("the third Validate within a minute is refused, and says to wait", async ({ page, javaScriptEnabled }) => {
  const wizard = new WizardPage(page, javaScriptEnabled);
  await page.goto(strict!.url + "/");
  if (javaScriptEnabled) await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const source = wizard.source();
  for (let attempt = 1; attempt <= 3; attempt++) {
    await wizard.fill(source, { preset: "Other", login: "x@example.test", password: "x", host: "imap.nowhere.test", ssl: true });
    // Each answer is awaited before the next attempt (the alert's text repeats).
    const answered = page.waitForResponse((r) => r.request().method() === "POST");
    await wizard.validate(source);
    await answered;
    const alert = source.getByRole("alert");
    if (attempt < 3) {
      await expect(alert).toContainText("The server name could not be found.");
      await expect(alert).not.toContainText("Too many attempts");
    } else {
      // Refused before any connection: said above the form, the earlier answer stays.
      await expect(page.getByRole("alert").filter({ hasText: "Too many attempts: please wait a minute and try again." })).toBeVisible();
    }
  }
});
