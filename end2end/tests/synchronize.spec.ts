// The whole seed story in a browser: validate both accounts, Synchronize, follow the job on its
// private page until it has finished, then look the status up by source address.
import { test, expect } from "@playwright/test";
import { brokenHeaders, control, harness, WizardPage } from "./wizard-page";

test("validate both accounts, synchronize, watch it finish, look it up by address", async ({ page, javaScriptEnabled }, testInfo) => {
  const h = harness();
  // A different source account per project: each run queues its own job.
  const user = h.users.find((u) => u.login.startsWith(javaScriptEnabled ? "carol" : "dave"))!;
  const wizard = new WizardPage(page, javaScriptEnabled);
  await wizard.open();

  const source = wizard.source();
  await wizard.fill(source, { preset: "Other", login: user.login, password: user.password, host: `localhost:${h.slash.imaps_port}`, ssl: true });
  await wizard.validate(source);
  await expect(source.getByRole("status")).toContainText("Connection established.");
  // No Synchronize before the destination is validated.
  await expect(page.getByRole("button", { name: "Synchronize" })).toHaveCount(0);

  const destination = wizard.destination();
  await wizard.fill(destination, { preset: "Other", login: user.login, password: user.password, host: `localhost:${h.dot.imap_port}`, ssl: false });
  await wizard.validate(destination);
  await expect(destination.getByRole("status")).toContainText("Connection established.");

  // The preflight, above Synchronize: where each folder goes, and what the copy creates.
  await expect(wizard.preflightRow("Archive/2020")).toContainText("INBOX.Archive.2020");
  await expect(wizard.preflightRow("Empty")).toContainText("INBOX.Empty");
  await expect(wizard.preflightRow("Empty")).toContainText("will be created");

  await page.getByRole("button", { name: "Synchronize" }).click();
  await expect(page).toHaveURL(/\/jobs\/[A-Za-z0-9_-]{20,}$/);
  const jobUrl = page.url();
  // The page refreshes itself (polling with JavaScript, meta refresh without) until the end.
  await expect(page.getByRole("status")).toContainText("The synchronization of the accounts has finished.", { timeout: 45_000 });
  await expect(page.getByText("Complete: every message is at the destination.")).toBeVisible();
  // The report was appended to the destination INBOX; the page follows until it is settled.
  await expect(page.getByRole("status")).toContainText("Report e-mail: sent to the destination mailbox", { timeout: 20_000 });
  const table = page.getByRole("table");
  await expect(table).toContainText("Archive/2020");
  await expect(table).toContainText("INBOX.Archive.2020");
  await expect(table).toContainText("INBOX.Empty");
  await expect(page.getByRole("link", { name: new URL(jobUrl).pathname })).toBeVisible();

  // Over IMAP, the destination holds the mail, and the report is in its INBOX.
  expect(await control(`messages dot ${user.login} INBOX.Archive.2020`)).toBe("10");
  expect(await control(`messages dot ${user.login} INBOX.Empty`)).toBe("0");
  expect(await control(`count dot ${user.login} INBOX IMAPCopy: the synchronization of`)).toBe("1");

  // The private page in French and Spanish (the switch comes back to the same page); in each
  // language, at 1280 and 360 px, no table header breaks, and a screenshot stays as an artifact.
  const project = javaScriptEnabled ? "js" : "nojs";
  const shots = async (lang: string) => {
    for (const width of [1280, 360]) {
      await page.setViewportSize({ width, height: 900 });
      expect(await brokenHeaders(page), `${lang} at ${width} px`).toEqual([]);
      await page.screenshot({ path: testInfo.outputPath(`screens/job-${lang}-${width}-${project}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 720 });
  };
  await shots("en");
  await page.getByRole("link", { name: "Français" }).click();
  await expect(page).toHaveURL(jobUrl);
  await expect(page.getByRole("status")).toContainText("La synchronisation des comptes est terminée.");
  await expect(page.locator("html")).toHaveAttribute("lang", "fr");
  await shots("fr");
  await page.getByRole("link", { name: "Español" }).click();
  await expect(page.getByRole("status")).toContainText("La sincronización de las cuentas ha terminado.");
  await shots("es");
  await page.getByRole("link", { name: "English" }).click();
  await expect(page.getByRole("status")).toContainText("The synchronization of the accounts has finished.");

  // Public lookup by source address: the coarse state and nothing else.
  await page.goto("/");
  await page.getByLabel("Source e-mail address").fill(user.login.toUpperCase());
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByRole("status")).toContainText("The synchronization of the accounts has finished.");
  await page.screenshot({ path: testInfo.outputPath(`screens/lookup-en-${project}.png`), fullPage: true });
  const html = await page.content();
  for (const secret of ["localhost", String(h.slash.imaps_port), "Archive", new URL(jobUrl).pathname]) {
    expect(html).not.toContain(secret);
  }
  // The user name alone finds nothing: this job's login is the full address (a bare login
  // finds only jobs whose login is that user name).
  await page.goto(`/status/${encodeURIComponent(user.login.split("@")[0])}`);
  await expect(page.getByRole("status")).toContainText("There is no synchronization to show for this address.");
});
