// "Sign in with …" instead of a password: the wizard sends the browser to a real
// authorization server (oidc-provider on `localhost`: cross-site, as Google and Microsoft are),
// the person signs in and allows access on its pages, the callback finds the draft through its
// single-use state and hands back to the wizard, which has validated the account over IMAP
// with the access token (Dovecot's oauth2 passdb). With and without JavaScript.
import { test, expect } from "@playwright/test";
import { harness, WizardPage } from "./wizard-page";

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
