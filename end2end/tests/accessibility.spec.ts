// Automated accessibility checks (axe-core) on every page, a keyboard-only Validate, and no
// horizontal scrolling at 360 px.
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

test("Validate by keyboard alone", async ({ page, javaScriptEnabled }) => {
  const h = harness();
  const wizard = new WizardPage(page, javaScriptEnabled);
  await wizard.open();
  await page.getByLabel("Service", { exact: true }).first().focus();
  await page.keyboard.press("Tab"); // login
  await page.keyboard.type(h.users[0].login);
  await page.keyboard.press("Tab"); // password
  await page.keyboard.type(h.users[0].password);
  await page.keyboard.press("Tab"); // server
  await page.keyboard.type(`localhost:${h.slash.imaps_port}`);
  await page.keyboard.press("Tab"); // SSL (ticked by default)
  await page.keyboard.press("Tab"); // "Advanced settings" (closed)
  await page.keyboard.press("Tab"); // Validate
  await expect(page.getByRole("button", { name: "Validate" }).first()).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(wizard.source().getByRole("status")).toContainText("Connection established.");
});

test("no horizontal scrolling at 360 px", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ["/", "/status?address=a%40b.test"]) {
    await page.goto(path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
});
