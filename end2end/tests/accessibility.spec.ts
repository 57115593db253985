// Automated accessibility checks (axe-core) on every page (the job page of a real job too), the
// whole wizard by keyboard alone, and no horizontal scrolling at 360 px.
import { test, expect } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { harness, WizardPage } from "./wizard-page";

async function expectNoSeriousViolations(page: import("@playwright/test").Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

for (const path of ["/", "/status?address=nobody%40example.test", "/jobs/unknown-job-id"]) {
  test(`no serious accessibility violations on ${path}`, async ({ page, javaScriptEnabled }) => {
    // axe runs as JavaScript inside the page; the no-JS project renders the same server markup.
    test.skip(!javaScriptEnabled, "axe-core needs page JavaScript");
    await page.goto(path);
    await expectNoSeriousViolations(page);
  });
}

test("the wizard with a validation error has no serious accessibility violations", async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "axe-core needs page JavaScript");
  const wizard = new WizardPage(page, javaScriptEnabled);
  await wizard.open();
  const source = wizard.source();
  await wizard.fill(source, { preset: "Other", login: "", password: "", host: "bad host", ssl: true });
  await wizard.validate(source);
  await expect(source.locator("#source-login-error")).toBeVisible();
  await expectNoSeriousViolations(page);
});

/** Types an account into the step whose "Service" select has the focus: Tab order login,
 * password, server, SSL, "Advanced settings", Validate; then presses Validate. */
async function typeAccount(page: import("@playwright/test").Page, account: { login: string; password: string; host: string }, button = "Validate") {
  await page.keyboard.press("Tab"); // login
  await page.keyboard.type(account.login);
  await page.keyboard.press("Tab"); // password
  await page.keyboard.type(account.password);
  await page.keyboard.press("Tab"); // server
  await page.keyboard.type(account.host);
  await page.keyboard.press("Tab"); // SSL (ticked by default)
  await page.keyboard.press("Tab"); // "Advanced settings" (closed)
  await page.keyboard.press("Tab"); // Validate
  await expect(page.locator(":focus")).toHaveText(button);
  await page.keyboard.press("Enter");
}

test("the whole wizard by keyboard alone", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  const user = h.users.find((u) => u.login.startsWith(javaScriptEnabled ? "kate" : "liam"))!;
  const wizard = new WizardPage(page, javaScriptEnabled);
  await wizard.open();
  // From the top of the page, Tab reaches the source step's first field.
  await page.locator("body").focus();
  for (let i = 0; i < 12 && !(await wizard.source().getByLabel("Service", { exact: true }).evaluate((e) => e === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(wizard.source().getByLabel("Service", { exact: true })).toBeFocused();
  await typeAccount(page, { ...user, host: `localhost:${h.slash.imaps_port}` });
  await expect(wizard.source().getByRole("status")).toContainText("Connection established.");

  // On to the destination step, by Tab only (bounded).
  const destinationService = wizard.destination().getByLabel("Service", { exact: true });
  for (let i = 0; i < 25 && !(await destinationService.evaluate((e) => e === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(destinationService).toBeFocused();
  await typeAccount(page, { ...user, host: `localhost:${h.dot.imaps_port}` }, "Accept");
  await expect(wizard.destination().getByRole("status")).toContainText("Connection established.");

  // Then Synchronize, still by Tab and Enter.
  const synchronize = page.getByRole("button", { name: "Synchronize" });
  await expect(synchronize).toBeVisible();
  for (let i = 0; i < 40 && !(await synchronize.evaluate((e) => e === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(synchronize).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/jobs\//);
  await expect(page.getByRole("status")).toContainText("The synchronization of the accounts has finished.", { timeout: 45_000 });
  if (javaScriptEnabled) {
    // The job page, finished, with its table: checked like every other page.
    await expectNoSeriousViolations(page);
    await page.setViewportSize({ width: 360, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.goto(`/status/${encodeURIComponent(user.login)}`);
    await expectNoSeriousViolations(page);
  }
});

test("no horizontal scrolling at 360 px", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ["/", "/status?address=a%40b.test"]) {
    await page.goto(path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
});
