// A server that offers no encryption (the harness's proxy hides STARTTLS, as an old host or a
// downgrading man-in-the-middle would): refused unless the user explicitly allows plaintext.
import { test, expect } from "@playwright/test";
import { harness, WizardPage } from "./wizard-page";

test("plaintext is refused without the explicit confirmation, accepted with it", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  const user = h.users[0];
  const wizard = new WizardPage(page, javaScriptEnabled);
  await wizard.open();
  const source = wizard.source();
  const account = { preset: "Other", login: user.login, password: user.password, host: `localhost:${h.slash.plain_only_port}`, ssl: false };
  await wizard.fill(source, account);
  await wizard.validate(source);
  const alert = source.getByRole("alert");
  await expect(alert).toContainText("The connection to the account could not be established.");
  await expect(alert).toContainText("The server does not offer encryption (STARTTLS) on this port.");
  await expect(wizard.destination()).toHaveCount(0);

  // The confirmation lives in the advanced part; the password is typed again (it is never
  // rendered back by the server).
  await wizard.fill(source, account);
  const advanced = source.locator("details.advanced");
  if (!(await advanced.getAttribute("open"))) await advanced.locator("summary").click();
  await source.getByLabel(/If the server offers no encryption, connect anyway/).check();
  await wizard.validate(source);
  await expect(source.getByRole("status")).toContainText("Connection established.");
  await expect(wizard.destination()).toBeVisible();
});
