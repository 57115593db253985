// A job that fails: the destination password is changed (and its sessions closed) after the
// job was queued. The private page shows the seed's error format — the general sentence in
// the page's language, then the specific cause in English; the public lookup shows only the
// general sentence.
import { test, expect } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { control, harness, validateBoth, WizardPage } from "./wizard-page";

test("a job whose destination password changed after queuing fails with the seed's error format", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  const user = h.users.find((u) => u.login.startsWith(javaScriptEnabled ? "ivan" : "judy"))!;
  const wizard = new WizardPage(page, javaScriptEnabled);
  await validateBoth(wizard, user, { host: `localhost:${h.slash.slow_imaps_port}`, ssl: true }, { host: `localhost:${h.dot.imaps_port}`, ssl: true });

  await control("hold");
  try {
    await page.getByRole("button", { name: "Synchronize" }).click();
    await expect(page).toHaveURL(/\/jobs\//);
    await control(`password dot ${user.login} changed-after-queuing`);
    await control(`kick dot ${user.login}`);
  } finally {
    await control("release");
  }

  const status = page.getByRole("status");
  await expect(status).toContainText("An error occurred in the synchronization.", { timeout: 60_000 });
  // The specific cause, in English, after the general sentence.
  await expect(status).toContainText(/authentication failed/i);
  const text = (await status.textContent()) ?? "";
  expect(text.indexOf("An error occurred in the synchronization.")).toBeLessThan(text.search(/authentication failed/i));

  if (javaScriptEnabled) {
    // The failed job's page passes the same accessibility checks as the others.
    const results = await new AxeBuilder({ page }).analyze();
    expect(results.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id)).toEqual([]);
  }

  // Spanish page, same English cause.
  await page.goto("/lang/es", { referer: page.url() });
  await expect(page.getByRole("status")).toContainText("Se ha producido un error en la sincronización.");
  await expect(page.getByRole("status")).toContainText(/authentication failed/i);
  await page.goto("/lang/en");

  // The public lookup: the general sentence, no cause, no host.
  await page.goto(`/status/${encodeURIComponent(user.login)}`);
  await expect(page.getByRole("status")).toContainText("An error occurred in the synchronization.");
  const html = await page.content();
  expect(html).not.toMatch(/authentication failed/i);
  expect(html).not.toContain(String(h.dot.imaps_port));
  expect(html).not.toContain("localhost");

  // Put the password back for later runs against this harness.
  await control(`password dot ${user.login} ${user.password}`);
});
