// The seed's rule: while a job for a source account exists, a second request for the same
// account is refused with the general sentence and "A task for sync this account exists."
// The first job is kept from finishing by holding the harness's slow proxy (its source
// connection stalls) until the second request has been answered.
import { test, expect } from "@playwright/test";
import { control, harness, validateBoth, WizardPage } from "./wizard-page";

test("a second Synchronize for the same source account is refused while the first runs", async ({ page, browser, javaScriptEnabled }) => {
  const h = harness();
  const user = h.users.find((u) => u.login.startsWith(javaScriptEnabled ? "gina" : "hank"))!;
  const source = { host: `localhost:${h.slash.slow_imaps_port}`, ssl: true };
  const destination = { host: `localhost:${h.dot.imaps_port}`, ssl: true };

  // Two browsers (two drafts) validate the same accounts.
  const first = new WizardPage(page, javaScriptEnabled);
  await validateBoth(first, user, source, destination);
  const other = await browser.newContext({ baseURL: h.url, javaScriptEnabled, locale: "en-US" });
  try {
    const second = new WizardPage(await other.newPage(), javaScriptEnabled);
    await validateBoth(second, user, source, destination);

    await control("hold");
    try {
      await page.getByRole("button", { name: "Synchronize" }).click();
      await expect(page).toHaveURL(/\/jobs\//);
      await expect(page.getByRole("status")).not.toContainText("has finished");
      // The job starts from the preflight's counts (20 seeded messages), before its own scan.
      await expect(page.getByRole("status")).toContainText("0 of 20 messages");

      await second.page.getByRole("button", { name: "Synchronize" }).click();
      const alert = second.page.getByRole("alert");
      await expect(alert).toContainText("An error occurred in the synchronization.");
      await expect(alert).toContainText("A task for sync this account exists.");
      // Nothing was queued for the second request: it stays on the wizard.
      expect(second.page.url()).not.toMatch(/\/jobs\//);

      // In Spanish, the seed's own words.
      await second.page.goto("/lang/es");
      await second.page.getByRole("button", { name: "Sincronizar" }).click();
      await expect(second.page.getByRole("alert")).toContainText("Se ha producido un error en la sincronización.");
      await expect(second.page.getByRole("alert")).toContainText("A task for sync this account exists.");
    } finally {
      await control("release");
    }
    // The first job goes on once the source answers again.
    await expect(page.getByRole("status")).toContainText("The synchronization of the accounts has finished.", { timeout: 60_000 });
  } finally {
    await other.close();
  }
});
