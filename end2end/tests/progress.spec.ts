// A copy held on purpose so that the running state is seen: the source is reached through the
// harness's latency proxy, which is held (no byte through) from Synchronize until the page says
// the job runs — the engine pipelines so well that this small mailbox would otherwise be copied
// between two refreshes. Then the progress bar advances without a reload (JavaScript) or
// through the page's own refresh (no JavaScript), the job finishes and the mail is there.
import { test, expect } from "@playwright/test";
import { control, harness, WizardPage } from "./wizard-page";

test("the job page follows a running copy to its end", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  const user = h.users.find((u) => u.login.startsWith(javaScriptEnabled ? "erin" : "frank"))!;
  const wizard = new WizardPage(page, javaScriptEnabled);
  await wizard.open();
  const source = wizard.source();
  await wizard.fill(source, { preset: "Other", login: user.login, password: user.password, host: `localhost:${h.slash.slow_imaps_port}`, ssl: true });
  await wizard.validate(source);
  await expect(source.getByRole("status")).toContainText("Connection established.");
  const destination = wizard.destination();
  await wizard.fill(destination, { preset: "Other", login: user.login, password: user.password, host: `localhost:${h.dot.imaps_port}`, ssl: true });
  await wizard.validate(destination);
  await expect(destination.getByRole("status")).toContainText("Connection established.");
  await control("hold");
  let held = true;
  try {
    await page.getByRole("button", { name: "Synchronize" }).click();
    await expect(page).toHaveURL(/\/jobs\//);

    // Running: the progress bar shows, and its value grows once the proxy lets bytes through.
    await expect(page.getByRole("status")).toContainText("The synchronization is in progress.", { timeout: 20_000 });
  } finally {
    if (held) await control("release");
    held = false;
  }
  const bar = page.locator("progress");
  if (javaScriptEnabled) await page.evaluate(() => ((window as any).__noReload = true));
  const first = Number((await bar.getAttribute("value").catch(() => "0")) ?? "0");
  await expect
    .poll(async () => Number((await page.locator("progress").getAttribute("value").catch(() => "0")) ?? "0"), { timeout: 30_000 })
    .toBeGreaterThan(first);
  await expect(page.getByRole("status")).toContainText("The synchronization of the accounts has finished.", { timeout: 45_000 });
  if (javaScriptEnabled) expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  await expect(page.getByRole("table")).toContainText("INBOX.Archive.2020");
  // The destination holds the mail (asked over IMAP), and the report reaches its INBOX.
  expect(await control(`messages dot ${user.login} INBOX.Archive.2020`)).toBe("10");
  await expect(page.getByRole("status")).toContainText("Report e-mail: sent to the destination mailbox", { timeout: 20_000 });
  expect(await control(`count dot ${user.login} INBOX IMAPCopy: the synchronization of`)).toBe("1");
});
