// Validate, from the browser to a real Dovecot server: with JavaScript (hydrated, no reload)
// and without (plain form post, result rendered by the server).
import { test, expect } from "@playwright/test";
import { harness, WizardPage } from "./wizard-page";

test.describe("Validate the source account", () => {
  test("a harness account over implicit TLS answers 'connection established'", async ({ page, javaScriptEnabled }) => {
    const h = harness();
    const wizard = new WizardPage(page, javaScriptEnabled);
    await wizard.open();
    if (javaScriptEnabled) await page.evaluate(() => ((window as any).__sameDocument = true));
    const source = wizard.source();
    await wizard.fill(source, {
      preset: "Other",
      login: h.users[0].login,
      password: h.users[0].password,
      host: `localhost:${h.slash.imaps_port}`,
      ssl: true,
    });
    await wizard.validate(source);
    const status = source.getByRole("status");
    await expect(status).toContainText("Connection established.");
    await expect(status).toContainText(/\d+ folders, \d+ messages\./);
    // The destination step appears once the source is established.
    await expect(wizard.destination()).toBeVisible();
    // The password never comes back to the browser.
    expect(await page.content()).not.toContain(h.users[0].password);
    if (javaScriptEnabled) {
      expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    }
  });

  test("a non-ASCII password over STARTTLS works", async ({ page, javaScriptEnabled }) => {
    const h = harness();
    const wizard = new WizardPage(page, javaScriptEnabled);
    await wizard.open();
    const source = wizard.source();
    await wizard.fill(source, {
      preset: "Other",
      login: h.users[1].login,
      password: h.users[1].password,
      host: `localhost:${h.dot.imap_port}`,
      ssl: false,
    });
    await wizard.validate(source);
    await expect(source.getByRole("status")).toContainText("Connection established.");
  });

  test("a wrong password shows the general sentence and the server's reason", async ({ page, javaScriptEnabled }) => {
    const h = harness();
    const wizard = new WizardPage(page, javaScriptEnabled);
    await wizard.open();
    const source = wizard.source();
    await wizard.fill(source, {
      preset: "Other",
      login: h.users[0].login,
      password: "definitely-wrong",
      host: `localhost:${h.slash.imaps_port}`,
      ssl: true,
    });
    await wizard.validate(source);
    const alert = source.getByRole("alert");
    await expect(alert).toContainText("The connection to the account could not be established.");
    await expect(alert).toContainText("The server refused the login or the password.");
    await expect(alert).toContainText(/authentication failed/i);
    await expect(wizard.destination()).toHaveCount(0);
    // The login typed is kept in the form; the password is never rendered back by the server.
    await expect(source.getByLabel("Login", { exact: true })).toHaveValue(h.users[0].login);
    if (!javaScriptEnabled) await expect(source.getByLabel("Password", { exact: true })).toHaveValue("");
    expect(await page.content()).not.toContain("definitely-wrong\"");
  });

  test("an unknown host is reported as such (resolved through the test hosts file)", async ({ page, javaScriptEnabled }) => {
    const wizard = new WizardPage(page, javaScriptEnabled);
    await wizard.open();
    const source = wizard.source();
    await wizard.fill(source, { preset: "Other", login: "x@example.test", password: "x", host: "imap.nowhere.test", ssl: true });
    await wizard.validate(source);
    await expect(source.getByRole("alert")).toContainText("The server name could not be found.");
  });

  test("empty fields are flagged next to the field and nothing is checked", async ({ page, javaScriptEnabled }) => {
    const wizard = new WizardPage(page, javaScriptEnabled);
    await wizard.open();
    const source = wizard.source();
    await wizard.fill(source, { preset: "Other", login: "", password: "", host: "not a host!", ssl: true });
    await wizard.validate(source);
    await expect(source.getByLabel("Login", { exact: true })).toHaveAttribute("aria-invalid", "true");
    await expect(source.locator("#source-login-error")).toHaveText("This field is required.");
    await expect(source.locator("#source-host-error")).toHaveText("Enter a server name such as imap.example.com.");
    await expect(source.getByRole("alert")).toHaveCount(0);
  });
});
