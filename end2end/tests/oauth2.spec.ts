// "Sign in with …" instead of a password: the wizard sends the browser to a real
// authorization server (oidc-provider on `localhost`: cross-site, as Google and Microsoft are),
// the person signs in and allows access on its pages, the callback finds the draft through its
// single-use state and hands back to the wizard, which has validated the account over IMAP
// with the access token (Dovecot's oauth2 passdb). With and without JavaScript.
import { test, expect, Locator, Page } from "@playwright/test";
import { control, harness, WizardPage } from "./wizard-page";

/** Signs in at the provider's own pages (oidc-provider's development login and consent) as
 *  `login`, after forgetting the provider's session (as "use another account" does). */
async function signInAtProvider(page: Page, login: string, start: Locator) {
  const h = harness();
  await page.context().clearCookies({ domain: "localhost" });
  await start.click();
  await page.waitForURL((url) => url.origin === h.oauth2.issuer);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("not-checked-by-the-provider");
  await page.locator('button[type="submit"]').first().click();
  await expect(page.locator('input[name="prompt"][value="consent"]')).toHaveCount(1);
  await page.locator('button[type="submit"]').first().click();
  await page.waitForURL((url) => url.origin === h.oauth2.url);
}

test("signing in at the provider validates the account without a password", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  const user = h.users[javaScriptEnabled ? 0 : 2];
  await page.goto(h.oauth2.url + "/");
  const wizard = new WizardPage(page, javaScriptEnabled);
  if (javaScriptEnabled) await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const source = wizard.source();
  await source.getByLabel("Service", { exact: true }).selectOption({ label: "Other" });
  await source.getByLabel("IMAP server", { exact: true }).fill(`localhost:${h.oauth2.imaps_port}`);
  await source.getByLabel("SSL", { exact: true }).setChecked(true);
  await source.getByRole("button", { name: "Sign in with Test Provider" }).click();

  // The provider's own pages (oidc-provider's development login and consent).
  await page.waitForURL((url) => url.origin === h.oauth2.issuer);
  await page.locator('input[name="login"]').fill(user.login);
  await page.locator('input[name="password"]').fill("not-checked-by-the-provider");
  await page.locator('button[type="submit"]').first().click();
  await expect(page.locator('input[name="prompt"][value="consent"]')).toHaveCount(1);
  await page.locator('button[type="submit"]').first().click();

  // Back at the wizard: validated with the token, the login is the signed-in account.
  await page.waitForURL(h.oauth2.url + "/");
  await expect(source.getByRole("status")).toContainText("Connection established.");
  await expect(source).toContainText("Signed in with Test Provider: no password needed.");
  await expect(source.getByLabel("Login", { exact: true })).toHaveValue(user.login);
  await expect(wizard.destination()).toBeVisible();
});

test("OAuth2 on both sides: a revoked grant pauses the job, signing in again on its page resumes it", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  test.setTimeout(150_000);
  const [src, dst] = javaScriptEnabled ? [h.users[4], h.users[5]] : [h.users[6], h.users[7]];
  await page.goto(h.oauth2.url + "/");
  const wizard = new WizardPage(page, javaScriptEnabled);
  if (javaScriptEnabled) await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  for (const [step, user] of [[wizard.source(), src], [wizard.destination(), dst]] as const) {
    await step.getByLabel("Service", { exact: true }).selectOption({ label: "Other" });
    await step.getByLabel("IMAP server", { exact: true }).fill(`localhost:${h.oauth2.imaps_port}`);
    await step.getByLabel("SSL", { exact: true }).setChecked(true);
    await signInAtProvider(page, user.login, step.getByRole("button", { name: "Sign in with Test Provider" }));
    await expect(step.getByRole("status")).toContainText("Connection established.");
    await expect(step.getByLabel("Login", { exact: true })).toHaveValue(user.login);
  }
  await expect(wizard.preflightRow("Archive/2020")).toBeVisible();

  // The user removes the app's access at the provider before the copy starts.
  expect(Number(await control(`revoke ${src.login}`))).toBeGreaterThanOrEqual(1);
  await page.getByRole("button", { name: "Synchronize" }).click();
  await expect(page).toHaveURL(/\/jobs\/[A-Za-z0-9_-]{20,}$/);
  const jobUrl = page.url();
  await expect(page.getByRole("status")).toContainText("The copy is paused: it waits for you to sign in again.", { timeout: 30_000 });
  await expect(page.getByText(`The sign-in of ${src.login} with Test Provider is no longer accepted`)).toBeVisible();
  // Only the revoked side is asked for.
  await expect(page.getByRole("button", { name: /Sign in again/ })).toHaveCount(1);

  await signInAtProvider(page, src.login, page.getByRole("button", { name: "Sign in again with Test Provider" }));
  await expect(page).toHaveURL(jobUrl);
  await expect(page.getByRole("status")).toContainText("The synchronization of the accounts has finished.", { timeout: 45_000 });
  await expect(page.getByText("Complete: every message is at the destination.")).toBeVisible();
  await expect(page.getByRole("status")).toContainText("Report e-mail: sent to the destination mailbox", { timeout: 20_000 });
  // Over IMAP: the destination's own 10 and the source's 10, and the report in its INBOX
  // (appended with the destination's token).
  expect(await control(`messages oauth2 ${dst.login} Archive/2020`)).toBe("20");
  expect(await control(`messages oauth2 ${dst.login} Empty`)).toBe("0");
  expect(await control(`count oauth2 ${dst.login} INBOX IMAPCopy: the synchronization of`)).toBe("1");
});
